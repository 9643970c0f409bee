/**
 * Each fault flag, on the running host: the failure it injects takes the real failure's path
 * (status codes, retries, dead-letter topic), the delay shows in the spans, the burst multiplies
 * the executor's calls, and every span where a flag acted carries the `feature_flag.evaluation`
 * event. Flags are switched through the API routes and by editing the file, as users do.
 */
import assert from "node:assert/strict";
import type { ServiceName } from "../functions/mod.ts";
import { withVariant } from "../runtime/flags/definitions.ts";
import { DLQ_SUFFIX } from "../runtime/messaging/consumer.ts";
import { waitFor } from "../testing/wait.ts";
import { postJson, startTestHost, type TestHost } from "./_harness.ts";
import type { ReceivedSpan } from "../testing/otlp_receiver.ts";

const ERROR = 2;

function traceparent(): { traceId: string; header: string } {
  const hex = (bytes: number) =>
    Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
  const traceId = hex(16);
  return { traceId, header: `00-${traceId}-${hex(8)}-01` };
}

/** The `feature_flag.evaluation` events of `span` for `flag`. */
function flagEvents(span: ReceivedSpan | undefined, flag: string) {
  return (span?.events ?? []).filter((event) =>
    event.name === "feature_flag.evaluation" && event.attributes["feature_flag.key"] === flag
  );
}

/** Switches `flag` through the host's console, `PUT /api/flags/:name`, as the Functions page does. */
async function put(test: TestHost, flag: string, variant: string): Promise<void> {
  const console = test.host.console;
  if (!console) throw new Error("the test host runs no console");
  const response = await fetch(`${console.endpoint}/api/flags/${flag}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ variant }),
  });
  assert.equal(response.status, 200, await response.text());
  const listed = await (await fetch(`${console.endpoint}/api/flags`)).json();
  assert.equal(
    listed.flags.find((f: { name: string }) => f.name === flag).variant,
    variant,
    "the console lists the flag as switched",
  );
}

/** The records of an embedded topic keyed `key`. */
async function topicRecords(test: TestHost, topic: string, key: string) {
  const records: Array<{ k: string; v: string; h: Record<string, string> }> = [];
  try {
    for await (const file of Deno.readDir(`${test.dataDir}/bus/topics/${topic}`)) {
      const text = await Deno.readTextFile(`${test.dataDir}/bus/topics/${topic}/${file.name}`);
      for (const line of text.split("\n").filter((l) => l !== "")) {
        const record = JSON.parse(line);
        if (record.k === key) records.push(record);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return records;
}

/** Options of a host test: flags switched on before the host starts, and its services. */
interface HostTestOptions {
  readonly on?: Readonly<Record<string, string>>;
  readonly services?: ServiceName[];
}

const FUNCTION_SERVICES: ServiceName[] = ["app1", "app2", "app3", "app4"];

/**
 * Runs `fn` against a host whose flags are a copy of flags.json. Without the executor unless a
 * test asks for it, so only the test's own requests run.
 */
const hostTest = (
  name: string,
  options: HostTestOptions,
  fn: (test: TestHost, flagsFile: string, t: Deno.TestContext) => Promise<void>,
) =>
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const dir = await Deno.makeTempDir({ prefix: "flags-host-" });
      const flagsFile = `${dir}/flags.json`;
      let text = await Deno.readTextFile(new URL("../flags.json", import.meta.url));
      for (const [flag, variant] of Object.entries(options.on ?? {})) {
        const changed = withVariant(text, flag, variant);
        if (!changed.ok) throw new Error(changed.error);
        text = changed.text;
      }
      await Deno.writeTextFile(flagsFile, text);
      const test = await startTestHost({
        env: { FLAGS_FILE: flagsFile },
        services: options.services ?? FUNCTION_SERVICES,
      });
      try {
        await fn(test, flagsFile, t);
      } finally {
        await test.stop();
      }
    },
  });

/** The share flags' failures, the delays, each switched and switched back, on one host. */
hostTest("fault flags on the functions", {}, async (test, flagsFile, t) => {
  await t.step(
    "app3StoreFailure: a 500 from app3, a 502 from app1, attributed",
    () => storeFailure(test, flagsFile),
  );
  await t.step(
    "app3PublishFailure, app4CacheFailure: retries, then the dead-letter topic",
    () => deadLetters(test),
  );
  await t.step(
    "app1SlowMs, app2ConsumeDelayMs: the delay, on the spans where it acted",
    () => delays(test),
  );
});

async function storeFailure(test: TestHost, flagsFile: string): Promise<void> {
  {
    // Switched by editing the file, as a user would; the host applies it within a second.
    const text = await Deno.readTextFile(flagsFile);
    await Deno.writeTextFile(
      flagsFile,
      text.replace(/("app3StoreFailure": \{[\s\S]*?"defaultVariant": )"off"/, '$1"100%"'),
    );
    await waitFor(
      "the flag in force",
      () =>
        test.host.flags.source.flags().find((f) => f.name === "app3StoreFailure")?.value === 1 ||
        undefined,
      2000,
    );

    const { traceId, header } = traceparent();
    const id = crypto.randomUUID();
    const failed = await postJson(`${test.url("app1")}/Message`, { id, content: "doomed" }, {
      traceparent: header,
    });
    assert.equal(failed.status, 502);
    assert.match(String(failed.body.error), /app3 failed with 500/);
    const direct = await postJson(`${test.url("app3")}/PostMessage`, { content: "direct" });
    assert.equal(direct.status, 500, "app3 itself answers 500, as with a failing database");
    assert.deepEqual(direct.body, { error: "internal error" });
    const bad = await postJson(`${test.url("app3")}/PostMessage`, { content: 1 });
    assert.equal(bad.status, 400, "bad input is still refused before the fault");

    const store = await waitFor(
      "app3's failed store span",
      () =>
        test.receiver.trace(traceId).find((span) =>
          span.service === "app3" && span.name === "POST /PostMessage"
        ),
    );
    assert.equal(store.status, ERROR);
    assert.equal(store.attributes["error.type"], "InjectedFault");
    assert.equal(store.attributes["http.response.status_code"], 500);
    const [event] = flagEvents(store, "app3StoreFailure");
    assert.ok(event, "the span carries the flag's evaluation");
    assert.equal(event.attributes["feature_flag.result.variant"], "100%");
    assert.equal(event.attributes["feature_flag.result.value"], 1);
    assert.equal(event.attributes["feature_flag.provider.name"], "flagd-file");
    const exception = store.events.find((e) => e.name === "exception");
    assert.match(String(exception?.attributes["exception.message"]), /app3StoreFailure/);
    assert.equal(
      test.receiver.trace(traceId).filter((span) => span.name.startsWith("INSERT")).length,
      0,
      "nothing was written",
    );
    assert.equal((await fetch(`${test.url("app3")}/Message/${id}`)).status, 404);
    const app1Span = test.receiver.trace(traceId).find((span) =>
      span.service === "app1" && span.name === "POST /Message"
    );
    assert.equal(flagEvents(app1Span, "app3StoreFailure").length, 0, "only where the flag acted");

    await put(test, "app3StoreFailure", "off");
    const stored = await postJson(`${test.url("app1")}/Message`, { id, content: "doomed" });
    assert.equal(stored.status, 201, "off again: the same message is stored");
  }
}

async function deadLetters(test: TestHost): Promise<void> {
  {
    await put(test, "app3PublishFailure", "100%");
    const first = crypto.randomUUID();
    const accepted = await postJson(`${test.url("app1")}/Message/Post-Message`, {
      id: first,
      content: "to Purchase.DLQ",
    });
    assert.equal(accepted.status, 202, "app1's own publish is untouched");
    const [dead] = await waitFor(
      "the message in Purchase.DLQ",
      async () => {
        const records = await topicRecords(test, "Purchase" + DLQ_SUFFIX, first);
        return records.length > 0 ? records : undefined;
      },
      20_000,
    );
    assert.equal(dead.h["dlq.attempts"], test.env.KAFKA_MAX_ATTEMPTS ?? "5", "retried first");
    assert.equal(dead.h["dlq.consumer.group"], "app2");
    assert.match(dead.h["dlq.error.message"], /app3 answered 500/);
    assert.deepEqual(await topicRecords(test, "Purchase2", first), [], "nothing reached Purchase2");
    // Each attempt failed on app3's span, where the flag acted.
    const publishes = await waitFor("app3's five failed publish spans", () => {
      const spans = test.receiver.spans.filter((span) =>
        span.service === "app3" && span.name === "POST /Message/Post-Message" &&
        flagEvents(span, "app3PublishFailure").length === 1
      );
      return spans.length >= 5 ? spans : undefined;
    }, 10_000);
    assert.ok(publishes.every((span) => span.attributes["error.type"] === "InjectedFault"));
    await put(test, "app3PublishFailure", "off");

    await put(test, "app4CacheFailure", "100%");
    const second = crypto.randomUUID();
    await postJson(`${test.url("app1")}/Message/Post-Message`, { id: second, content: "uncached" });
    const [uncached] = await waitFor(
      "the message in Purchase2.DLQ",
      async () => {
        const records = await topicRecords(test, "Purchase2" + DLQ_SUFFIX, second);
        return records.length > 0 ? records : undefined;
      },
      20_000,
    );
    assert.equal(uncached.h["dlq.consumer.group"], "app4");
    assert.equal(uncached.h["dlq.error.type"], "InjectedFault");
    assert.equal((await fetch(`${test.url("app4")}/Message/${second}`)).status, 404);
    const process = await waitFor(
      "app4's failed process span",
      () =>
        test.receiver.spans.find((span) =>
          span.service === "app4" && span.name === "process Purchase2" &&
          span.attributes["messaging.kafka.message.key"] === second && span.status === ERROR
        ),
      10_000,
    );
    assert.equal(
      flagEvents(process, "app4CacheFailure").length,
      5,
      "one evaluation per attempt, on the process span",
    );
    assert.equal(
      process.events.filter((e) => e.name === "retry").length,
      4,
    );
    await put(test, "app4CacheFailure", "off");
    const third = crypto.randomUUID();
    await postJson(`${test.url("app1")}/Message/Post-Message`, { id: third, content: "cached" });
    await waitFor(
      "the message cached with the flag off",
      async () => (await fetch(`${test.url("app4")}/Message/${third}`)).status === 200 || undefined,
      20_000,
    );
  }
}

async function delays(test: TestHost): Promise<void> {
  {
    await put(test, "app1SlowMs", "1s");
    await put(test, "app2ConsumeDelayMs", "500ms");
    const { traceId, header } = traceparent();
    const id = crypto.randomUUID();
    const started = performance.now();
    const reply = await postJson(`${test.url("app1")}/Message/Post-Message`, {
      id,
      content: "slow",
    }, {
      traceparent: header,
    });
    const elapsed = performance.now() - started;
    assert.equal(reply.status, 202);
    assert.ok(elapsed >= 1000, `app1 answered after ${elapsed.toFixed(0)} ms`);

    const process = await waitFor(
      "app2's process span",
      () =>
        test.receiver.trace(traceId).find((span) =>
          span.service === "app2" && span.name === "process Purchase"
        ),
      20_000,
    );
    assert.ok(process.end - process.start >= 500, "app2 took the flag's time per message");
    assert.equal(
      flagEvents(process, "app2ConsumeDelayMs")[0].attributes["feature_flag.result.value"],
      500,
    );
    const server = test.receiver.trace(traceId).find((span) =>
      span.service === "app1" && span.name === "POST /Message/Post-Message"
    )!;
    assert.ok(server.end - server.start >= 1000);
    assert.equal(
      flagEvents(server, "app1SlowMs")[0].attributes["feature_flag.result.variant"],
      "1s",
    );

    await put(test, "app1SlowMs", "off");
    const quick = performance.now();
    assert.equal((await postJson(`${test.url("app1")}/Message`, { content: "quick" })).status, 201);
    assert.ok(performance.now() - quick < 1000, "off again: app1 answers at once");
  }
}

// app1 alone behind the executor: its Kafka endpoint answers without PostgreSQL or app2.
hostTest("executorBurst: each cron run sends that many calls", {
  on: { executorBurst: "10x" },
  services: ["app1", "executor"],
}, async (test) => {
  const root = await waitFor(
    "a call-post-message run",
    () =>
      test.receiver.spans.find((span) =>
        span.service === "executor" && span.name === "call-post-message" &&
        span.parentSpanId === undefined
      ),
    10_000,
  );
  const calls = await waitFor("the run's app1 spans", () => {
    const spans = test.receiver.trace(root.traceId).filter((span) =>
      span.service === "app1" && span.name === "POST /Message/Post-Message"
    );
    return spans.length >= 10 ? spans : undefined;
  });
  assert.equal(calls.length, 10);
  assert.equal(flagEvents(root, "executorBurst")[0].attributes["feature_flag.result.value"], 10);
  await put(test, "executorBurst", "off");
  const single = await waitFor("a run with the flag off", () => {
    const runs = test.receiver.spans.filter((span) =>
      span.service === "executor" && span.name === "call-post-message" &&
      flagEvents(span, "executorBurst").length === 0
    );
    return runs.find((run) =>
      test.receiver.trace(run.traceId).some((span) => span.service === "app1")
    );
  }, 10_000);
  assert.equal(
    test.receiver.trace(single.traceId).filter((span) => span.name === "POST /Message/Post-Message")
      .length,
    1,
  );
});
