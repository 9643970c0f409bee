import assert from "node:assert/strict";
import { assertPromtoolAccepts, metricValue } from "../_test_util.ts";
import { missingTool, testWhen } from "../_test_needs.ts";
import { createMetrics } from "./metrics.ts";

Deno.test("createMetrics: each call has its own registry (services do not collide)", async () => {
  const app1 = createMetrics();
  const app3 = createMetrics();
  assert.notEqual(app1.registry, app3.registry);
  app1.kafkaProduced.inc({ topic: "Purchase" });
  assert.equal(
    await metricValue(app1.registry, "kafka_messages_produced_total", { topic: "Purchase" }),
    1,
  );
  assert.equal(
    await metricValue(app3.registry, "kafka_messages_produced_total", { topic: "Purchase" }),
    undefined,
  );
});

Deno.test("createMetrics: names follow Prometheus conventions (units, _total)", async () => {
  const metrics = createMetrics();
  const families = await metrics.registry.getMetricsAsJSON();
  const names = families.map((family) => family.name);
  for (
    const expected of [
      "http_client_request_duration_seconds",
      "kafka_messages_produced_total",
      "kafka_produce_failures_total",
      "kafka_messages_consumed_total",
      "kafka_messages_failed_total",
      "kafka_message_retries_total",
      "kafka_message_process_duration_seconds",
      "kafka_consumer_lag",
      "cron_runs_total",
      "cron_run_duration_seconds",
      "cron_last_success_timestamp_seconds",
      "db_client_operation_duration_seconds",
      "dependency_up",
      "otel_dropped_total",
      "otel_export_failures_total",
      "deno_memory_rss_bytes",
      "deno_memory_heap_used_bytes",
      "process_start_time_seconds",
      "deno_event_loop_lag_seconds",
    ]
  ) {
    assert.ok(names.includes(expected), `${expected} is missing`);
  }
  for (const family of families) {
    assert.match(family.name, /^[a-z_][a-z0-9_]*$/);
    const type = String(family.type);
    if (type === "counter") assert.match(family.name, /_total$/, family.name);
    // Histograms measure durations, or counts of messages (the producer's batch sizes).
    if (type === "histogram") assert.match(family.name, /_(seconds|messages)$/, family.name);
    assert.ok(family.help.length > 0, `${family.name} has no help`);
  }
});

Deno.test("createMetrics: Deno process metrics are read at scrape time", async () => {
  const metrics = createMetrics();
  const text = await metrics.registry.metrics();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  assert.ok(value("deno_memory_rss_bytes") > 1_000_000);
  assert.ok(value("deno_memory_heap_used_bytes") > 0);
  const start = value("process_start_time_seconds");
  assert.ok(start > 1_600_000_000 && start <= Date.now() / 1000);
  const lag = value("deno_event_loop_lag_seconds");
  assert.ok(lag >= 0 && lag < 1, String(lag));
});

testWhen(missingTool("promtool", "prometheus"), {
  name: "createMetrics: the exposition passes promtool check metrics",
  fn: async () => {
    const metrics = createMetrics();
    metrics.kafkaConsumed.inc({ topic: "Purchase", group: "app2" });
    metrics.dbDuration.observe(
      { db_system_name: "postgresql", db_operation_name: "INSERT", outcome: "ok" },
      0.003,
    );
    metrics.cronRuns.inc({ function: "call-message", outcome: "success" });
    const report = await assertPromtoolAccepts(await metrics.registry.metrics(), "createMetrics");
    assert.equal(report.trim(), "", report);
  },
});
