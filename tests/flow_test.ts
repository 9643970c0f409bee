/**
 * The seed's flow, end to end, against each backend suite: one executor tick yields two traces,
 * each connected with a single root, with the expected services, kinds, parents and attributes;
 * the messages land in PostgreSQL and Redis; the Kafka messages carry `traceparent`; the logs
 * carry the trace ids, on stdout and over OTLP.
 */
import project from "../deno.json" with { type: "json" };
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import postgres from "postgres";
import { createClient } from "@redis/client";
import { type BackendSuite, getJson, testEachBackend, type TestHost } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";
import { type ReceivedSpan, SpanKind } from "../testing/otlp_receiver.ts";

type Step = readonly [service: string, kind: number, name: string];

const POSTGRES_PATH: Step[] = [
  ["executor", SpanKind.SERVER, "call-message"],
  ["executor", SpanKind.CLIENT, "POST"],
  ["app1", SpanKind.SERVER, "POST /Message"],
  ["app1", SpanKind.CLIENT, "POST"],
  ["app3", SpanKind.SERVER, "POST /PostMessage"],
  ["app3", SpanKind.CLIENT, "INSERT messages"],
];

const KAFKA_PATH: Step[] = [
  ["executor", SpanKind.SERVER, "call-post-message"],
  ["executor", SpanKind.CLIENT, "POST"],
  ["app1", SpanKind.SERVER, "POST /Message/Post-Message"],
  ["app1", SpanKind.PRODUCER, "send Purchase"],
  ["app2", SpanKind.CONSUMER, "process Purchase"],
  ["app2", SpanKind.CLIENT, "POST"],
  ["app3", SpanKind.SERVER, "POST /Message/Post-Message"],
  ["app3", SpanKind.PRODUCER, "send Purchase2"],
  ["app4", SpanKind.CONSUMER, "process Purchase2"],
  ["app4", SpanKind.CLIENT, "SET"],
];

/** The spans of `trace` ordered root first, if they form exactly the chain `path`. */
function asChain(trace: ReceivedSpan[], path: Step[]): ReceivedSpan[] | undefined {
  if (trace.length !== path.length) return undefined;
  const chain: ReceivedSpan[] = [];
  let parent: string | undefined = undefined;
  for (const [service, kind, name] of path) {
    const span = trace.find((s) =>
      s.parentSpanId === parent && s.service === service && s.kind === kind && s.name === name
    );
    if (span === undefined) return undefined;
    chain.push(span);
    parent = span.spanId;
  }
  return chain;
}

/** Waits for a complete trace of `path` whose root was exported. */
function completeTrace(test: TestHost, path: Step[]): Promise<ReceivedSpan[]> {
  return waitFor(`a complete "${path[0][2]}" trace`, () => {
    const roots = test.receiver.spans.filter((span) =>
      span.parentSpanId === undefined && span.name === path[0][2]
    );
    for (const root of roots) {
      const chain = asChain(test.receiver.trace(root.traceId), path);
      if (chain) return chain;
    }
    return undefined;
  }, 40_000);
}

/** Every span but the root has its parent in the same trace; exactly one root. */
function assertConnected(trace: ReceivedSpan[]): void {
  const ids = new Set(trace.map((span) => span.spanId));
  const roots = trace.filter((span) => span.parentSpanId === undefined);
  assert.equal(roots.length, 1, "one root per trace");
  for (const span of trace) {
    if (span.parentSpanId !== undefined) {
      assert.ok(
        ids.has(span.parentSpanId),
        `${span.service} ${span.name} has its parent in the trace`,
      );
    }
    assert.notEqual(span.status, 2, `${span.service} ${span.name} is not an error`);
  }
}

/** The message id a log line of `service` with `message` recorded in `traceId`. */
function loggedMessageId(test: TestHost, service: string, message: string, traceId: string) {
  for (const line of test.logs) {
    const record = JSON.parse(line);
    if (record.service === service && record.message === message && record.trace_id === traceId) {
      return record.message_id as string;
    }
  }
  return undefined;
}

/** The headers of the `topic` message keyed `key`, read from the broker or the embedded log. */
async function kafkaHeaders(
  suite: BackendSuite,
  test: TestHost,
  topic: string,
  key: string,
): Promise<Record<string, string>> {
  if (!suite.real.kafka) {
    return await waitFor(`${topic} message ${key} in the embedded log`, async () => {
      for await (const file of Deno.readDir(`${test.dataDir}/bus/topics/${topic}`)) {
        const text = await Deno.readTextFile(`${test.dataDir}/bus/topics/${topic}/${file.name}`);
        for (const line of text.split("\n").filter((l) => l !== "")) {
          const record = JSON.parse(line);
          if (record.k === key) return record.h as Record<string, string>;
        }
      }
      return undefined;
    });
  }
  const kafka = new Kafka({
    brokers: suite.env.KAFKA_BROKERS.split(","),
    clientId: "flow-test-inspector",
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `inspector-${crypto.randomUUID()}`,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
  });
  const decoder = new TextDecoder();
  let found: Record<string, string> | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        if (message.key && decoder.decode(message.key) === key) {
          found = Object.fromEntries(
            Object.entries(message.headers ?? {}).map((
              [name, value],
            ) => [name, decoder.decode(value as Uint8Array)]),
          );
        }
        return Promise.resolve();
      },
    });
    return await waitFor(`${topic} message ${key} on the broker`, () => found, 30_000);
  } finally {
    await consumer.disconnect();
  }
}

testEachBackend("one executor tick yields two connected traces end to end", async (suite) => {
  const test = await (await import("./_harness.ts")).startTestHost({ env: suite.env });
  try {
    const postgresPath = await completeTrace(test, POSTGRES_PATH);
    const kafkaPath = await completeTrace(test, KAFKA_PATH);
    assertConnected(postgresPath);
    assertConnected(kafkaPath);
    assert.notEqual(postgresPath[0].traceId, kafkaPath[0].traceId, "two traces, not one");

    // The cron tick is the root, a timer-triggered FaaS invocation (a SERVER span).
    for (const root of [postgresPath[0], kafkaPath[0]]) {
      assert.equal(root.attributes["faas.trigger"], "timer");
      assert.equal(root.attributes["faas.cron"], "* * * * * *");
      assert.match(String(root.attributes["faas.invocation_id"]), /^[0-9a-f-]{36}$/);
      assert.equal(typeof root.attributes["faas.coldstart"], "boolean");
      assert.equal(root.resource["service.version"], project.version);
      assert.equal(root.resource["deployment.environment.name"], "development");
      assert.deepEqual(root.scope, {
        name: "otel-functions-runtime",
        version: project.version,
        schemaUrl: "https://opentelemetry.io/schemas/1.44.0",
      });
    }

    // HTTP client and server spans (method + route names, semantic-convention attributes).
    const [, executorCall, app1Server, app1Call, app3Server, insert] = postgresPath;
    assert.equal(executorCall.attributes["http.request.method"], "POST");
    assert.equal(executorCall.attributes["http.response.status_code"], 201);
    assert.equal(executorCall.attributes["server.address"], "127.0.0.1");
    assert.match(String(executorCall.attributes["url.full"]), /\/Message$/);
    assert.equal(app1Server.attributes["http.route"], "/Message");
    assert.equal(app1Server.attributes["url.path"], "/Message");
    assert.equal(app1Server.attributes["http.response.status_code"], 201);
    assert.equal(app1Call.attributes["http.response.status_code"], 201);
    assert.equal(app3Server.attributes["http.route"], "/PostMessage");

    // PostgreSQL: parameterised text, no values.
    assert.equal(insert.attributes["db.system.name"], "postgresql");
    assert.equal(insert.attributes["db.operation.name"], "INSERT");
    assert.equal(insert.attributes["db.collection.name"], "messages");
    assert.match(String(insert.attributes["db.query.text"]), /values \(\$1, \$2, \$3\)/);
    assert.equal(insert.attributes["db.namespace"] !== undefined, true);
    assert.ok(!String(insert.attributes["db.query.text"]).includes("Hello from the executor"));

    // Kafka: producer and consumer spans, keyed by the message id.
    const [
      ,
      ,
      publishServer,
      sendPurchase,
      processPurchase,
      ,
      app3Publish,
      sendPurchase2,
      processPurchase2,
      set,
    ] = kafkaPath;
    assert.equal(publishServer.attributes["http.response.status_code"], 202);
    assert.equal(app3Publish.attributes["http.route"], "/Message/Post-Message");
    const kafkaId = String(sendPurchase.attributes["messaging.kafka.message.key"]);
    for (
      const [span, topic, type] of [
        [sendPurchase, "Purchase", "send"],
        [processPurchase, "Purchase", "process"],
        [sendPurchase2, "Purchase2", "send"],
        [processPurchase2, "Purchase2", "process"],
      ] as const
    ) {
      assert.equal(span.attributes["messaging.system"], "kafka");
      assert.equal(span.attributes["messaging.destination.name"], topic);
      assert.equal(span.attributes["messaging.operation.type"], type);
      assert.equal(span.attributes["messaging.kafka.message.key"], kafkaId, "the id travels");
      assert.equal(typeof span.attributes["messaging.destination.partition.id"], "string");
      assert.equal(typeof span.attributes["messaging.kafka.offset"], "number");
    }
    assert.equal(processPurchase.attributes["messaging.consumer.group.name"], "app2");
    assert.equal(processPurchase2.attributes["messaging.consumer.group.name"], "app4");
    // Each process span is the producer's child and also links to it.
    for (
      const [process, send] of [[processPurchase, sendPurchase], [processPurchase2, sendPurchase2]]
    ) {
      assert.deepEqual(process.links, [{ traceId: send.traceId, spanId: send.spanId }]);
      assert.equal(process.attributes["messaging.client.id"], "otel-functions");
    }
    // Tempo's service graph names the database nodes by peer.service.
    assert.equal(insert.attributes["peer.service"], "postgresql");
    assert.equal(set.attributes["peer.service"], "redis");
    if (suite.real.redis) {
      const redisUrl = new URL(suite.env.REDIS_URL);
      assert.equal(
        set.attributes["server.address"],
        redisUrl.hostname,
        "Redis's, not the bridge's",
      );
      assert.equal(set.attributes["server.port"], Number(redisUrl.port) || 6379);
    } else {
      assert.equal(set.attributes["server.port"], undefined, "the embedded store has no server");
    }

    // Redis: the command without its values.
    assert.equal(set.attributes["db.system.name"], "redis");
    assert.equal(set.attributes["db.operation.name"], "SET");
    assert.equal(set.attributes["db.query.text"], "SET ? ? EX ?");

    // The Kafka messages carry the producer spans' context.
    const purchaseHeaders = await kafkaHeaders(suite, test, "Purchase", kafkaId);
    assert.equal(
      purchaseHeaders.traceparent,
      `00-${sendPurchase.traceId}-${sendPurchase.spanId}-01`,
    );
    const purchase2Headers = await kafkaHeaders(suite, test, "Purchase2", kafkaId);
    assert.equal(
      purchase2Headers.traceparent,
      `00-${sendPurchase2.traceId}-${sendPurchase2.spanId}-01`,
    );

    // The data landed where the flow says, readable through the read endpoints.
    const storedId = loggedMessageId(test, "app3", "message stored", postgresPath[0].traceId);
    assert.ok(storedId, "app3 logged the stored message with the trace id");
    const row = await getJson(`${test.url("app3")}/Message/${storedId}`);
    assert.equal(row.status, 200);
    assert.equal(row.body.source, "app1");
    assert.match(String(row.body.content), /^Hello from the executor/);
    const cached = await getJson(`${test.url("app4")}/Message/${kafkaId}`);
    assert.equal(cached.status, 200);
    assert.equal(cached.body.id, kafkaId);

    if (suite.real.postgres) {
      const sql = postgres(suite.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql`select content, source from messages where id = ${storedId!}`;
        assert.equal(rows.length, 1);
        assert.equal(rows[0].content, row.body.content);
      } finally {
        await sql.end();
      }
    }
    if (suite.real.redis) {
      const redis = await createClient({ url: suite.env.REDIS_URL }).connect();
      try {
        const value = await redis.get(`message:${kafkaId}`);
        const ttl = await redis.ttl(`message:${kafkaId}`);
        assert.equal(JSON.parse(String(value)).id, kafkaId);
        assert.ok(ttl > 86_000 && ttl <= 86_400, `TTL ${ttl}`);
      } finally {
        redis.destroy();
      }
    }

    // Logs carry the trace and span ids, on stdout and over OTLP.
    const otlpLog = await waitFor(
      "an OTLP log record of the Kafka path",
      () =>
        test.receiver.logs.find((log) =>
          log.service === "app4" && log.traceId === kafkaPath[0].traceId
        ),
    );
    assert.equal(otlpLog.body, "message cached");
    assert.equal(otlpLog.spanId, processPurchase2.spanId);
  } finally {
    await test.stop();
  }
});
