import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  functionContext,
  type MemoryTelemetry,
  memoryTelemetry,
  metricValue,
} from "../_test_util.ts";
import { waitFor } from "../../testing/wait.ts";
import { DependencyUnavailableError, PermanentError } from "../errors.ts";
import type { FunctionContext, IncomingMessage, KafkaFunction } from "../function.ts";
import type { StoredMessage, Subscription } from "./bus.ts";
import { classifyCacheError } from "../cache/client.ts";
import { classifyPostgresError } from "../db/postgres.ts";
import { DLQ_SUFFIX, runConsumer } from "./consumer.ts";
import { EmbeddedBus } from "./embedded.ts";
import { createProducer } from "./producer.ts";

interface Setup {
  readonly bus: EmbeddedBus;
  readonly telemetry: MemoryTelemetry;
  readonly handled: IncomingMessage[];
  /** Starts the consumer of `fn`'s topic. */
  start(options?: { maxAttempts?: number; backoffMs?: number }): Promise<Subscription>;
  /** Publishes like a function would: a traced send. */
  publish(key: string, value: unknown, headers?: Record<string, string>): Promise<void>;
  /** Messages that reached the dead-letter topic. */
  deadLetters(): Promise<StoredMessage[]>;
  /**
   * The sum of `name`'s series for topic Purchase and group app2: `delivered`, `processed`
   * (without error), `failed` (processed with an error), `deadLettered` or `retries`.
   */
  count(what: keyof typeof COUNTS): Promise<number>;
}

/** A bus, telemetry and a KafkaFunction whose handler is `handle`. */
async function withConsumer(
  handle: (message: IncomingMessage, attempt: number, ctx: FunctionContext) => Promise<void>,
  fn: (setup: Setup) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const bus = await EmbeddedBus.open(dir);
  const telemetry = memoryTelemetry("app2");
  const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
  const handled: IncomingMessage[] = [];
  const attempts = new Map<string, number>();
  const kafkaFunction: KafkaFunction = {
    name: "forward-purchase",
    topic: "Purchase",
    group: "app2",
    async handle(message, ctx) {
      const attempt = (attempts.get(message.offset + message.partition) ?? 0) + 1;
      attempts.set(message.offset + message.partition, attempt);
      await handle(message, attempt, ctx);
      handled.push(message);
    },
  };
  const ctx = functionContext("app2", telemetry.log);
  const subscriptions: Subscription[] = [];
  const setup: Setup = {
    bus,
    telemetry,
    handled,
    async start(options = {}) {
      const subscription = await runConsumer({
        fn: kafkaFunction,
        ctx,
        bus,
        telemetry,
        producer,
        maxAttempts: options.maxAttempts ?? 3,
        backoffMs: options.backoffMs ?? 5,
      });
      subscriptions.push(subscription);
      return subscription;
    },
    async publish(key, value, headers = {}) {
      await telemetry.tracer.startActiveSpan("POST /Message/Post-Message", async (span) => {
        await producer.send("Purchase", { key, value, headers });
        span.end();
      });
    },
    async deadLetters() {
      const found: StoredMessage[] = [];
      for (let p = 0; p < 4; p++) found.push(...bus.read(`Purchase${DLQ_SUFFIX}`, p, 0));
      return await Promise.resolve(found);
    },
    async count(what) {
      const [name, keep] = COUNTS[what];
      const family = (await telemetry.metrics.registry.getMetricsAsJSON()).find((f) =>
        f.name === name.replace(/_count$/, "")
      );
      return (family?.values ?? []).filter((value) => {
        const labels = value.labels;
        const series = (value as { metricName?: string }).metricName ?? family!.name;
        return series === name && labels.messaging_destination_name === "Purchase" &&
          labels.messaging_consumer_group_name === "app2" && keep(labels);
      }).reduce((sum, value) => sum + value.value, 0);
    },
  };
  try {
    await fn(setup);
  } finally {
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    await bus.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const COUNTS = {
  delivered: ["messaging_client_consumed_messages_total", () => true],
  processed: ["messaging_process_duration_seconds_count", (l) => l.error_type === undefined],
  failed: ["messaging_process_duration_seconds_count", (l) => l.error_type !== undefined],
  deadLettered: ["messaging_client_dead_lettered_messages_total", () => true],
  retries: ["messaging_process_retries_total", () => true],
} satisfies Record<string, [string, (labels: Record<string, unknown>) => boolean]>;

const consumerTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

consumerTest(
  "runConsumer: each message is handled once, as a CONSUMER span child of its sender",
  async () => {
    await withConsumer(() => Promise.resolve(), async (setup) => {
      await setup.publish("id-1", { id: "id-1", content: "a" }, { "x-origin": "app1" });
      await setup.publish("id-2", { id: "id-2", content: "b" });
      await setup.start();
      await waitFor("both messages", () => setup.handled.length === 2);
      const first = setup.handled.find((m) => m.key === "id-1")!;
      assert.equal(first.topic, "Purchase");
      assert.equal(first.value, '{"id":"id-1","content":"a"}');
      assert.equal(first.headers["x-origin"], "app1");
      assert.ok(
        first.timestamp instanceof Date && Math.abs(first.timestamp.getTime() - Date.now()) < 5000,
      );

      const sends = setup.telemetry.spans().filter((span) => span.name === "send Purchase");
      const processes = setup.telemetry.spans().filter((span) => span.name === "process Purchase");
      assert.equal(processes.length, 2);
      for (const span of processes) {
        assert.equal(span.kind, SpanKind.CONSUMER);
        assert.equal(span.status.code, SpanStatusCode.UNSET);
        const send = sends.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);
        assert.ok(send, "the consumer span's parent is the producer span of its message");
        assert.equal(span.spanContext().traceId, send.spanContext().traceId);
      }
      const process1 = processes.find((span) =>
        span.attributes["messaging.kafka.message.key"] === "id-1"
      )!;
      const { "faas.invocation_id": invocation, ...attributes } = process1.attributes;
      assert.match(String(invocation), /^[0-9a-f-]{36}$/);
      assert.deepEqual(attributes, {
        "messaging.system": "kafka",
        "messaging.destination.name": "Purchase",
        "messaging.client.id": "otel-functions",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.consumer.group.name": "app2",
        "messaging.destination.partition.id": String(first.partition),
        "messaging.kafka.offset": Number(first.offset),
        "messaging.kafka.message.key": "id-1",
        "messaging.message.body.size": first.value.length,
        "faas.trigger": "pubsub",
        "faas.name": "forward-purchase",
        "faas.coldstart": process1.attributes["faas.coldstart"],
      });
      for (const span of processes) {
        const parent = span.parentSpanContext!;
        assert.deepEqual(
          span.links.map((link) => [link.context.traceId, link.context.spanId]),
          [[parent.traceId, parent.spanId]],
          "linked to the producer's context as well as its child",
        );
      }
      assert.deepEqual(
        processes.map((span) => span.attributes["faas.coldstart"]).sort(),
        [false, true],
        "only the function's first invocation is a cold start",
      );
      assert.equal(await setup.count("processed"), 2);
      assert.equal(await setup.count("deadLettered"), 0);
      assert.equal(await setup.count("delivered"), 2);
      assert.equal(
        await metricValue(setup.telemetry.metrics.registry, "messaging_kafka_consumer_lag", {
          messaging_destination_name: "Purchase",
          messaging_consumer_group_name: "app2",
          messaging_destination_partition_id: String(first.partition),
        }),
        0,
      );
      await waitFor(
        "the commit",
        () => setup.bus.position("app2", "Purchase", first.partition) === Number(first.offset) + 1,
      );
    });
  },
);

consumerTest(
  "runConsumer: the handler runs inside the consumer span (its logs carry its ids)",
  async () => {
    await withConsumer(async (message, _attempt, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      ctx.log.info("forwarding", { message_id: message.key });
    }, async (setup) => {
      await setup.publish("id-1", "x");
      await setup.start();
      await waitFor("the message", () => setup.handled.length === 1);
      const process = setup.telemetry.span("process Purchase");
      const record = setup.telemetry.records.find((r) => r.message === "forwarding");
      assert.ok(record);
      assert.equal(record.trace_id, process.spanContext().traceId);
      assert.equal(record.span_id, process.spanContext().spanId);
    });
  },
);

consumerTest("runConsumer: failures are retried with backoff, then succeed", async () => {
  await withConsumer(
    (_message, attempt) =>
      attempt < 3
        ? Promise.reject(Object.assign(new Error("app3 answered 503"), { code: "HTTP_503" }))
        : Promise.resolve(),
    async (setup) => {
      await setup.publish("id-1", "v");
      const started = performance.now();
      await setup.start({ maxAttempts: 5, backoffMs: 40 });
      await waitFor("the third attempt", () => setup.handled.length === 1);
      const elapsed = performance.now() - started;
      // Backoff 40 ms then 80 ms, each with jitter in [50 %, 100 %].
      assert.ok(elapsed >= 55, `retried after only ${elapsed} ms`);
      assert.equal(await setup.count("retries"), 2);
      assert.equal(await setup.count("processed"), 1);
      assert.equal(await setup.count("deadLettered"), 0);
      assert.deepEqual(await setup.deadLetters(), []);
      const span = setup.telemetry.span("process Purchase");
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.deepEqual(
        span.events.map((
          event,
        ) => [event.name, event.attributes?.attempt, event.attributes?.["error.type"]]),
        [["retry", 1, "HTTP_503"], ["retry", 2, "HTTP_503"]],
      );
      const warnings = setup.telemetry.records.filter((record) => record.level === "warn");
      assert.equal(warnings.length, 2);
      assert.equal(warnings[0].message, "message handling failed; retrying");
      assert.equal(warnings[0].trace_id, span.spanContext().traceId);
    },
  );
});

consumerTest(
  "runConsumer: after the last attempt the message goes to <topic>.DLQ with dlq.* headers",
  async () => {
    await withConsumer(
      (message) =>
        message.key === "poison"
          ? Promise.reject(new TypeError("cannot read content of undefined"))
          : Promise.resolve(),
      async (setup) => {
        await setup.publish("poison", { id: "poison" }, { "x-origin": "app1" });
        await setup.publish("fine", { id: "fine" });
        await setup.start({ maxAttempts: 3, backoffMs: 1 });
        await waitFor("the dead letter", async () => (await setup.deadLetters()).length === 1);
        await waitFor("the healthy message", () => setup.handled.some((m) => m.key === "fine"));

        const [dead] = await setup.deadLetters();
        const send = setup.telemetry.spans().find((span) =>
          span.name === "send Purchase" &&
          span.attributes["messaging.kafka.message.key"] === "poison"
        )!;
        const process = setup.telemetry.spans().find((span) =>
          span.name === "process Purchase" &&
          span.attributes["messaging.kafka.message.key"] === "poison"
        )!;
        assert.equal(dead.key, "poison");
        assert.equal(dead.value, '{"id":"poison"}');
        const h = dead.headers;
        assert.equal(h["x-origin"], "app1", "the original headers ride along");
        assert.equal(h["dlq.original.topic"], "Purchase");
        assert.equal(
          h["dlq.original.partition"],
          String(process.attributes["messaging.destination.partition.id"]),
        );
        assert.equal(
          h["dlq.original.offset"],
          String(process.attributes["messaging.kafka.offset"]),
        );
        assert.equal(
          h["dlq.original.traceparent"],
          `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`,
        );
        assert.equal(h["dlq.consumer.group"], "app2");
        assert.equal(h["dlq.attempts"], "3");
        assert.equal(h["dlq.error.type"], "TypeError");
        assert.equal(h["dlq.error.message"], "cannot read content of undefined");
        assert.ok(Math.abs(Date.parse(h["dlq.failed_at"]) - Date.now()) < 5000);
        // The dead letter stays in the message's trace, sent from the failed process span.
        const dlqSend = setup.telemetry.span("send Purchase.DLQ");
        assert.equal(dlqSend.parentSpanContext?.spanId, process.spanContext().spanId);
        assert.equal(
          h.traceparent,
          `00-${dlqSend.spanContext().traceId}-${dlqSend.spanContext().spanId}-01`,
        );
        assert.equal(dlqSend.spanContext().traceId, send.spanContext().traceId);

        assert.equal(process.status.code, SpanStatusCode.ERROR);
        assert.equal(process.attributes["error.type"], "TypeError");
        assert.equal(await setup.count("deadLettered"), 1);
        assert.equal(await setup.count("retries"), 2);
        assert.equal(await setup.count("processed"), 1);
        assert.equal(await setup.count("failed"), 1, "the dead letter's process ended in error");
        assert.equal(await setup.count("delivered"), 2);
        const error = setup.telemetry.records.find((record) =>
          record.message === "message dead-lettered"
        );
        assert.ok(error);
        assert.equal(error.dead_letter_topic, "Purchase.DLQ");
        assert.equal(error.attempts, 3);
        // Why, in the line too (the dead letter's dlq.error.message).
        assert.equal((error.error as Error).message, "cannot read content of undefined");
        // The poison message is resolved: it will not come back.
        const partition = Number(process.attributes["messaging.destination.partition.id"]);
        await waitFor(
          "the commit past the poison message",
          () =>
            setup.bus.position("app2", "Purchase", partition) > Number(h["dlq.original.offset"]),
        );
      },
    );
  },
);

consumerTest("runConsumer: a PermanentError goes to the DLQ at once, without retries", async () => {
  await withConsumer(
    () => Promise.reject(new PermanentError("value is not JSON")),
    async (setup) => {
      await setup.publish("bad", "{not json");
      await setup.start({ maxAttempts: 5, backoffMs: 1000 });
      await waitFor("the dead letter", async () => (await setup.deadLetters()).length === 1, 1000);
      const [dead] = await setup.deadLetters();
      assert.equal(dead.headers["dlq.attempts"], "1");
      assert.equal(dead.headers["dlq.error.type"], "PermanentError");
      assert.equal(dead.headers["dlq.error.message"], "value is not JSON");
      assert.equal(dead.value, "{not json");
      assert.equal(await setup.count("retries"), 0);
      assert.equal(await setup.count("deadLettered"), 1);
    },
  );
});

consumerTest(
  "runConsumer: stopping during a backoff leaves the message for redelivery",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      let attempts = 0;
      await withConsumer(() => {
        attempts++;
        return Promise.reject(new Error("down"));
      }, async (setup) => {
        await setup.publish("k", "v");
        const subscription = await setup.start({ maxAttempts: 5, backoffMs: 10_000 });
        await waitFor("the first attempt", () => attempts === 1);
        const started = performance.now();
        await subscription.stop();
        assert.ok(performance.now() - started < 1500, "stop waited for the whole backoff");
        assert.equal(attempts, 1);
        assert.deepEqual(await setup.deadLetters(), []);
        assert.equal(await setup.count("deadLettered"), 0);
        assert.equal(await setup.count("delivered"), 1);
        assert.equal(await setup.count("processed") + await setup.count("failed"), 0, "not done");
        const span = setup.telemetry.span("process Purchase");
        assert.equal(span.status.code, SpanStatusCode.ERROR);
        assert.equal(span.status.message, "stopped before retrying");
        const delivery = setup.telemetry.span("send Purchase");
        const partition = Number(delivery.attributes["messaging.destination.partition.id"]);
        assert.equal(setup.bus.position("app2", "Purchase", partition), 0, "nothing committed");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

consumerTest("runConsumer: an outage is waited out without spending attempts", async () => {
  await withConsumer(
    (_message, attempt) =>
      attempt <= 3 ? Promise.reject(new DependencyUnavailableError("app3")) : Promise.resolve(),
    async (setup) => {
      await setup.publish("id-1", "v");
      const started = performance.now();
      await setup.start({ maxAttempts: 2, backoffMs: 1 });
      await waitFor("the message after the outage", () => setup.handled.length === 1, 3000);
      // Outages back off from at least 100 ms (doubling, jittered to 50-100 %): 50 + 100 + 200.
      assert.ok(performance.now() - started >= 340, "outage retries did not back off");
      assert.deepEqual(await setup.deadLetters(), [], "an outage is not the message's fault");
      assert.equal(await setup.count("deadLettered"), 0);
      assert.equal(await setup.count("retries"), 3);
      assert.equal(await setup.count("processed"), 1);
      const warnings = setup.telemetry.records.filter((record) => record.level === "warn");
      assert.deepEqual(warnings.map((record) => record.message), [
        "dependency unavailable; retrying",
      ], "an outage is logged on its first retry, not on every one");
      assert.equal(setup.telemetry.span("process Purchase").status.code, SpanStatusCode.UNSET);
    },
  );
});

consumerTest(
  "runConsumer: refused credentials are waited out like an outage, logged as an error",
  async () => {
    await withConsumer(
      (_message, attempt) =>
        attempt <= 3
          ? Promise.reject(
            classifyPostgresError(Object.assign(new Error("password failed"), { code: "28P01" })),
          )
          : Promise.resolve(),
      async (setup) => {
        await setup.publish("id-1", "v");
        await setup.start({ maxAttempts: 2, backoffMs: 1 });
        await waitFor("the message once the password is fixed", () => setup.handled.length === 1);
        assert.deepEqual(await setup.deadLetters(), [], "not the message's fault");
        assert.equal(await setup.count("deadLettered"), 0);
        const errors = setup.telemetry.records.filter((record) => record.level === "error");
        assert.deepEqual(
          errors.map((r) => [r.message, r.dependency, r.reason]),
          [[
            "dependency refuses the configuration; waiting for it to be fixed",
            "postgres",
            "28P01",
          ]],
        );
      },
    );
  },
);

consumerTest(
  "runConsumer: a client error without a SQLSTATE, or any other cache failure, is retried then dead-lettered",
  async () => {
    // These used to count as outages: one such message held its partition forever.
    const failures = [
      classifyPostgresError(
        Object.assign(new Error("UNDEFINED_VALUE: x"), { code: "UNDEFINED_VALUE" }),
      ),
      classifyCacheError(new TypeError("Cannot read properties of undefined (reading 'id')")),
    ];
    for (const failure of failures) {
      await withConsumer(
        () => Promise.reject(failure),
        async (setup) => {
          await setup.publish("id-1", "v");
          await setup.start({ maxAttempts: 3, backoffMs: 1 });
          await waitFor("the dead letter", async () => (await setup.deadLetters()).length === 1);
          const [dead] = await setup.deadLetters();
          assert.equal(dead.headers["dlq.attempts"], "3");
          assert.equal(
            dead.headers["dlq.error.type"],
            failure.name === "CacheError" ? "TypeError" : "UNDEFINED_VALUE",
          );
          assert.equal(await setup.count("deadLettered"), 1);
          assert.equal(await setup.count("retries"), 2);
        },
      );
    }
  },
);

consumerTest(
  "runConsumer: only real failures count towards the DLQ, outages in between do not",
  async () => {
    await withConsumer((_message, attempt) =>
      Promise.reject(
        attempt % 2 === 1 ? new DependencyUnavailableError("app3") : new TypeError("bad message"),
      ), async (setup) => {
      await setup.publish("id-1", "v");
      await setup.start({ maxAttempts: 2, backoffMs: 1 });
      await waitFor("the dead letter", async () => (await setup.deadLetters()).length === 1, 3000);
      const [dead] = await setup.deadLetters();
      // Attempts: outage, failure, outage, failure (the second failure is the last allowed).
      assert.equal(dead.headers["dlq.attempts"], "4");
      assert.equal(dead.headers["dlq.error.type"], "TypeError");
      assert.equal(await setup.count("retries"), 3);
      assert.equal(await setup.count("deadLettered"), 1);
    });
  },
);
