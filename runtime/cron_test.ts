import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { functionContext, memoryTelemetry, metricValue } from "./_test_util.ts";
import { delay, waitFor } from "../testing/wait.ts";
import { startCron } from "./cron.ts";
import type { CronFunction } from "./function.ts";
import { withSpan } from "./telemetry/span.ts";

const EVERY_SECOND = "* * * * * *";

const contextFor = (telemetry: ReturnType<typeof memoryTelemetry>) =>
  functionContext("executor", telemetry.log);

const cronTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

cronTest("startCron: runs on schedule, each run the root span of its own trace", async () => {
  const telemetry = memoryTelemetry("executor");
  const runs: Array<{ traceId?: string; at: number }> = [];
  const fn: CronFunction = {
    name: "call-message",
    schedule: () => EVERY_SECOND,
    async run(ctx) {
      runs.push({ traceId: trace.getActiveSpan()?.spanContext().traceId, at: Date.now() });
      await withSpan(telemetry.tracer, "POST", SpanKind.CLIENT, {}, () => Promise.resolve());
      ctx.log.info("tick");
    },
  };
  // Started inside a span: the runs must still be roots, not its children.
  const job = await telemetry.tracer.startActiveSpan("startup", (startup) => {
    const started = startCron({
      fn,
      ctx: contextFor(telemetry),
      telemetry,
      schedule: EVERY_SECOND,
    });
    startup.end();
    return started;
  });
  try {
    const next = job.nextRun();
    assert.ok(next instanceof Date && next.getTime() - Date.now() <= 1000);
    await waitFor("two runs", () => runs.length >= 2, 3500);
  } finally {
    await job.stop();
  }
  const spans = telemetry.spans().filter((span) => span.name === "call-message");
  assert.ok(spans.length >= 2);
  for (const span of spans) {
    assert.equal(span.kind, SpanKind.SERVER, "a cron run is a FaaS invocation");
    assert.equal(span.parentSpanContext, undefined, "a run is a root span");
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.attributes["faas.trigger"], "timer");
    assert.equal(span.attributes["faas.name"], "call-message");
    assert.equal(span.attributes["faas.cron"], EVERY_SECOND);
    assert.match(String(span.attributes["faas.time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(String(span.attributes["faas.invocation_id"]), /^[0-9a-f-]{36}$/);
  }
  assert.deepEqual(
    spans.map((span) => span.attributes["faas.coldstart"]),
    spans.map((_, i) => i === 0),
    "the first run in this host is the cold start",
  );
  assert.equal(
    new Set(spans.map((span) => span.attributes["faas.invocation_id"])).size,
    spans.length,
  );
  assert.notEqual(spans[0].spanContext().traceId, spans[1].spanContext().traceId);
  assert.equal(runs[0].traceId, spans[0].spanContext().traceId, "the run sees its span as active");
  const client = telemetry.spans().find((span) => span.name === "POST")!;
  assert.equal(client.parentSpanContext?.spanId, spans[0].spanContext().spanId);
  const tick = telemetry.records.find((record) => record.message === "tick")!;
  assert.equal(tick.trace_id, spans[0].spanContext().traceId);
  assert.ok(runs[1].at - runs[0].at >= 700, "runs follow the schedule, a second apart");

  const registry = telemetry.metrics.registry;
  const labels = { faas_trigger: "timer", faas_name: "call-message" };
  assert.equal(await metricValue(registry, "faas_invocations_total", labels), spans.length);
  assert.equal(await metricValue(registry, "faas_errors_total", labels), 0);
  assert.equal(await metricValue(registry, "faas_coldstarts_total", labels), 1);
  assert.equal(
    await metricValue(registry, "faas_invoke_duration_seconds_count", labels),
    spans.length,
  );
});

cronTest("startCron: a failed run is recorded on its span, logged and counted", async () => {
  const telemetry = memoryTelemetry("executor");
  let calls = 0;
  const fn: CronFunction = {
    name: "call-post-message",
    schedule: () => EVERY_SECOND,
    run() {
      calls++;
      return Promise.reject(Object.assign(new Error("app1 is down"), { code: "ECONNREFUSED" }));
    },
  };
  const job = startCron({ fn, ctx: contextFor(telemetry), telemetry, schedule: EVERY_SECOND });
  try {
    await waitFor("a failed run", () => calls >= 1 && telemetry.spans().length >= 1, 2500);
  } finally {
    await job.stop();
  }
  const [span] = telemetry.spans();
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "ECONNREFUSED");
  assert.equal(span.events[0].name, "exception");
  const warning = telemetry.records.find((record) => record.message === "cron run failed")!;
  assert.equal(warning.level, "warn");
  assert.equal(warning.function, "call-post-message");
  assert.equal(warning.error_type, "ECONNREFUSED");
  assert.deepEqual(warning.error, { type: "Error", message: "app1 is down" });
  assert.equal(warning.trace_id, span.spanContext().traceId);
  const registry = telemetry.metrics.registry;
  const labels = { faas_trigger: "timer", faas_name: "call-post-message" };
  assert.equal(await metricValue(registry, "faas_errors_total", labels), calls);
  assert.equal(await metricValue(registry, "faas_invocations_total", labels), 0);
});

cronTest("startCron: its counters start at 0, so the first failure is an increase", async () => {
  const telemetry = memoryTelemetry("executor");
  const fn: CronFunction = {
    name: "never",
    schedule: () => "0 0 1 1 *",
    run: () => Promise.resolve(),
  };
  const job = startCron({ fn, ctx: contextFor(telemetry), telemetry, schedule: "0 0 1 1 *" });
  await job.stop();
  const labels = { faas_trigger: "timer", faas_name: "never" };
  const registry = telemetry.metrics.registry;
  assert.equal(await metricValue(registry, "faas_errors_total", labels), 0);
  assert.equal(await metricValue(registry, "faas_invocations_total", labels), 0);
});

cronTest(
  "startCron: an overrunning run makes the next ticks skip; stop waits for the run",
  async () => {
    const telemetry = memoryTelemetry("executor");
    let active = 0;
    let most = 0;
    let finished = 0;
    const fn: CronFunction = {
      name: "slow",
      schedule: () => EVERY_SECOND,
      async run() {
        active++;
        most = Math.max(most, active);
        await delay(1600);
        active--;
        finished++;
      },
    };
    const job = startCron({ fn, ctx: contextFor(telemetry), telemetry, schedule: EVERY_SECOND });
    const skipped = () =>
      telemetry.records.filter((record) =>
        record.message === "cron run skipped: the previous run is still going"
      ).length;
    let stopped = false;
    try {
      await waitFor("a skipped tick", () => skipped() >= 1, 3500);
      assert.equal(most, 1, "runs overlapped");
      assert.equal(active, 1, "the first run is still going");
      const stopping = job.stop().then(() => stopped = true);
      await delay(10);
      assert.equal(stopped, false, "stop returned while a run was still going");
      await stopping;
    } finally {
      await job.stop();
    }
    assert.equal(active, 0, "stop returned before the run ended");
    assert.equal(finished, 1);
    const warning = telemetry.records.find((record) =>
      record.message === "cron run skipped: the previous run is still going"
    );
    assert.ok(warning);
    assert.equal(warning.function, "slow");
    // No run starts after stop.
    await delay(1100);
    assert.equal(finished, 1);
    assert.equal(active, 0);
    assert.equal(job.nextRun(), null);
  },
);

cronTest("runNow: starts a run at once with its trace id; none while one runs", async () => {
  const telemetry = memoryTelemetry("executor");
  let release: () => void = () => {};
  const runs: string[] = [];
  const fn: CronFunction = {
    name: "call-message",
    schedule: () => "0 0 1 1 *",
    async run() {
      runs.push(trace.getActiveSpan()!.spanContext().traceId);
      await new Promise<void>((resolve) => release = resolve);
    },
  };
  const job = startCron({ fn, ctx: contextFor(telemetry), telemetry, schedule: "0 0 1 1 *" });
  try {
    const started = job.runNow();
    assert.ok(started, "a run starts");
    assert.match(started.traceId, /^[0-9a-f]{32}$/);
    assert.equal(job.runNow(), undefined, "no second run while the first is going");
    await waitFor("the run", () => runs.length === 1, 1000);
    assert.equal(runs[0], started.traceId, "the returned id is the run's trace");
    release();
    await waitFor(
      "the run's span",
      () => telemetry.spans().some((span) => span.spanContext().traceId === started.traceId),
      1000,
    );
    const again = job.runNow();
    assert.ok(again && again.traceId !== started.traceId, "a new run once the first ended");
    await waitFor("the second run", () => runs.length === 2, 1000);
    release();
  } finally {
    await job.stop();
  }
});
