import assert from "node:assert/strict";
import { trace, TraceFlags } from "@opentelemetry/api";
import { assertPromtoolAccepts, metricValue } from "../_test_util.ts";
import { CLASSIC, expose } from "./exposition.ts";
import { BUCKETS, createMetrics, type Metrics, observe, processMetrics } from "./metrics.ts";

const promtool = await new Deno.Command("promtool", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output()
  .then((output) => output.success, () => false);

/** One sample in every family, with every label the host ever sets on it. */
function recordEverything(metrics: Metrics): void {
  const kafka = { messaging_system: "kafka", messaging_destination_name: "Purchase" };
  const group = { ...kafka, messaging_consumer_group_name: "app2" };
  const broker = { server_address: "broker", server_port: 9092 };
  observe(metrics.httpServerDuration, {
    http_request_method: "POST",
    url_scheme: "http",
    http_route: "/Message",
    http_response_status_code: 503,
    error_type: "503",
  }, 0.02);
  observe(metrics.httpClientDuration, {
    http_request_method: "POST",
    server_address: "localhost",
    server_port: 8003,
    http_response_status_code: 201,
    network_protocol_version: "1.1",
  }, 0.01);
  metrics.messagingSent.inc({
    ...kafka,
    ...broker,
    messaging_operation_name: "send",
    messaging_destination_partition_id: "1",
  });
  observe(metrics.messagingOperationDuration, {
    ...kafka,
    ...broker,
    messaging_operation_name: "send",
    messaging_operation_type: "send",
    error_type: "KafkaJSError",
  }, 0.004);
  observe(metrics.messagingBatchSize, kafka, 12);
  observe(metrics.messagingLinger, kafka, 0.002);
  metrics.messagingConsumed.inc({
    ...group,
    messaging_operation_name: "process",
    messaging_destination_partition_id: "1",
  });
  observe(metrics.messagingProcessDuration, {
    ...group,
    messaging_operation_name: "process",
    messaging_destination_partition_id: "1",
  }, 0.03);
  metrics.messagingRetries.inc(group);
  metrics.messagingDeadLettered.inc(group);
  metrics.messagingConsumerLag.set({ ...group, messaging_destination_partition_id: "1" }, 3);
  observe(metrics.dbOperationDuration, {
    db_system_name: "postgresql",
    db_operation_name: "INSERT",
    db_collection_name: "messages",
    db_namespace: "postgres",
    db_query_summary: "INSERT messages",
    server_address: "localhost",
    server_port: 5432,
  }, 0.003);
  const faas = { faas_trigger: "timer", faas_name: "call-message" };
  observe(metrics.faasInvokeDuration, faas, 0.05);
  metrics.faasInvocations.inc(faas);
  metrics.faasErrors.inc(faas);
  metrics.faasColdstarts.inc(faas);
  metrics.dependencyUp.set({ dependency: "postgres" }, 1);
  const processor = {
    otel_component_type: "batching_span_processor",
    otel_component_name: "batching_span_processor/0",
  };
  const exporter = {
    otel_component_type: "otlp_http_json_span_exporter",
    otel_component_name: "otlp_http_json_span_exporter/0",
    server_address: "localhost",
    server_port: "4318",
  };
  metrics.sdkSpansProcessed.inc({ ...processor, error_type: "queue_full" });
  metrics.sdkLogsProcessed.inc(processor);
  metrics.sdkSpansExported.inc({ ...exporter, error_type: "503" });
  metrics.sdkLogsExported.inc(exporter);
  metrics.targetInfo.set({ service_name: "app1" }, 1);
}

Deno.test("createMetrics: each call has its own registry (services do not collide)", async () => {
  const app1 = createMetrics();
  const app3 = createMetrics();
  assert.notEqual(app1.registry, app3.registry);
  const labels = { messaging_system: "kafka", messaging_destination_name: "Purchase" };
  app1.messagingSent.inc(labels);
  const name = "messaging_client_sent_messages_total";
  assert.equal(await metricValue(app1.registry, name, labels), 1);
  assert.equal(await metricValue(app3.registry, name, labels), undefined);
});

Deno.test("createMetrics: semantic-convention names, Prometheus suffixes and advised buckets", async () => {
  const metrics = createMetrics();
  recordEverything(metrics);
  const families = await metrics.registry.getMetricsAsJSON();
  const types = Object.fromEntries(families.map((family) => [family.name, String(family.type)]));
  assert.deepEqual(types, {
    http_server_request_duration_seconds: "histogram",
    http_client_request_duration_seconds: "histogram",
    messaging_client_sent_messages_total: "counter",
    messaging_client_operation_duration_seconds: "histogram",
    messaging_kafka_producer_batch_message_count: "histogram",
    messaging_kafka_producer_linger_duration_seconds: "histogram",
    messaging_client_consumed_messages_total: "counter",
    messaging_process_duration_seconds: "histogram",
    messaging_process_retries_total: "counter",
    messaging_client_dead_lettered_messages_total: "counter",
    messaging_kafka_consumer_lag: "gauge",
    db_client_operation_duration_seconds: "histogram",
    faas_invoke_duration_seconds: "histogram",
    faas_invocations_total: "counter",
    faas_errors_total: "counter",
    faas_coldstarts_total: "counter",
    dependency_up: "gauge",
    otel_sdk_processor_span_processed_total: "counter",
    otel_sdk_processor_log_processed_total: "counter",
    otel_sdk_exporter_span_exported_total: "counter",
    otel_sdk_exporter_log_exported_total: "counter",
    target_info: "gauge",
  });
  for (const family of families) {
    assert.ok(family.help.length > 0, `${family.name} has no help`);
    if (String(family.type) !== "histogram") continue;
    const bounds = family.values
      .filter((value) => (value as { metricName?: string }).metricName?.endsWith("_bucket"))
      .map((value) => value.labels.le)
      .filter((le) => le !== "+Inf");
    const advised = family.name === "db_client_operation_duration_seconds"
      ? BUCKETS.db
      : family.name.endsWith("_message_count")
      ? BUCKETS.batch
      : BUCKETS.default;
    assert.deepEqual(bounds, [...advised], family.name);
  }
});

Deno.test("observe: a sampled span becomes the bucket's exemplar; an unsampled one does not", async () => {
  const metrics = createMetrics();
  const sampled = trace.wrapSpanContext({
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
  });
  const unsampled = trace.wrapSpanContext({
    traceId: "1af7651916cd43dd8448eb211c80319c",
    spanId: "c7ad6b7169203331",
    traceFlags: TraceFlags.NONE,
  });
  observe(metrics.faasInvokeDuration, { faas_name: "a" }, 0.02, sampled);
  observe(metrics.faasInvokeDuration, { faas_name: "b" }, 0.02, unsampled);
  const family = (await metrics.registry.getMetricsAsJSON()).find((f) =>
    f.name === "faas_invoke_duration_seconds"
  )!;
  const exemplars = family.values.flatMap((value) => {
    const exemplar = (value as { exemplar?: { labelSet: object } | null }).exemplar;
    return exemplar ? [{ le: value.labels.le, series: value.labels.faas_name, ...exemplar }] : [];
  });
  assert.deepEqual(exemplars.map(({ le, series, labelSet }) => ({ le, series, labelSet })), [{
    le: 0.025,
    series: "a",
    labelSet: { trace_id: "0af7651916cd43dd8448eb211c80319c", span_id: "b7ad6b7169203331" },
  }]);
});

Deno.test("processMetrics: one registry per process, read at scrape time", async () => {
  assert.equal(processMetrics(), processMetrics());
  const text = await expose([processMetrics()], CLASSIC);
  const value = (name: string, labels = "") =>
    Number(new RegExp(`^${name}${labels.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
  assert.ok(value("process_memory_usage_bytes") > 1_000_000, text);
  assert.ok(value("process_cpu_time_seconds_total", '{cpu_mode="user"}') > 0);
  assert.ok(value("process_uptime_seconds") > 0);
  assert.ok(value("v8js_memory_heap_used_bytes", '{v8js_heap_space_name="old_space"}') > 0);
  assert.ok(value("v8js_memory_heap_space_size_bytes", '{v8js_heap_space_name="old_space"}') > 0);
  // Block the event loop for 200 ms: the delay gauges see it at the next scrape.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const blockedUntil = performance.now() + 200;
  while (performance.now() < blockedUntil) { /* block */ }
  await new Promise((resolve) => setTimeout(resolve, 30));
  const after = await expose([processMetrics()], CLASSIC);
  const max = Number(/^nodejs_eventloop_delay_max_seconds (\S+)$/m.exec(after)?.[1]);
  assert.ok(max >= 0.15 && max < 1, `max delay ${max} s after a 200 ms block`);
});

Deno.test({
  name: `createMetrics: every family passes promtool check metrics${
    promtool ? "" : " [promtool is not installed]"
  }`,
  ignore: !promtool,
  fn: async () => {
    const metrics = createMetrics();
    recordEverything(metrics);
    const text = await expose([metrics.registry, processMetrics()], CLASSIC);
    const report = await assertPromtoolAccepts(text, "createMetrics");
    assert.equal(report.trim(), "", report);
  },
});
