import assert from "node:assert/strict";
import { kafkaFlow, log, span, traceId } from "./_fixtures.ts";
import type { ConsoleEvent } from "./model.ts";
import { ConsoleStore } from "./store.ts";
import { logEntry } from "./capture.ts";
import type { LogRecord } from "../log.ts";

Deno.test("traces beyond the capacity drop the oldest first, and are counted", () => {
  const store = new ConsoleStore({ maxTraces: 3 });
  const ids = Array.from({ length: 5 }, () => traceId());
  ids.forEach((id, i) => {
    store.addSpan(span({ traceId: id, start: i }));
    store.addSpan(span({ traceId: id, start: i, parentSpanId: "1".repeat(16) }));
  });
  assert.deepEqual(store.traces().map((t) => t.traceId), [ids[4], ids[3], ids[2]]);
  assert.deepEqual(store.stats().traces, { kept: 3, capacity: 3, dropped: 2 });
  assert.deepEqual(store.stats().spans, { kept: 6, dropped: 4 });
  assert.equal(store.trace(ids[0]), undefined);
});

Deno.test("a trace is assembled from spans arriving out of order, and its row follows", () => {
  const store = new ConsoleStore();
  const flow = kafkaFlow();
  const shuffled = [
    flow[6],
    flow[9],
    flow[2],
    flow[4],
    flow[0],
    flow[8],
    flow[1],
    flow[3],
    flow[7],
    flow[5],
  ];
  store.addSpan(shuffled[0]);
  assert.equal(store.traces()[0].rootName, "POST /Message/Post-Message");
  assert.equal(store.traces()[0].spanCount, 1);
  for (const s of shuffled.slice(1)) store.addSpan(s);
  store.addSpan(flow[3]); // exported twice: kept once
  const [row] = store.traces();
  assert.equal(row.rootName, "executor");
  assert.equal(row.spanCount, 10);
  assert.equal(row.durationMs, 40);
  const detail = store.trace(flow[0].traceId)!;
  assert.deepEqual(
    detail.spans.map((s) => s.start),
    [...detail.spans.map((s) => s.start)].sort((a, b) => a - b),
  );
  assert.equal(detail.summary.kafka.waitMs, 10);
});

Deno.test("spans beyond a trace's cap are dropped and counted", () => {
  const store = new ConsoleStore({ maxSpansPerTrace: 2 });
  for (let i = 0; i < 5; i++) store.addSpan(span({ start: i }));
  assert.equal(store.traces()[0].spanCount, 2);
  assert.deepEqual(store.stats().spans, { kept: 2, dropped: 3 });
});

Deno.test("trace filters: service, name, error, minMs, attr, limit", () => {
  const store = new ConsoleStore();
  const a = traceId();
  const b = traceId();
  store.addSpan(
    span({
      traceId: a,
      service: "app1",
      name: "POST /Message",
      start: 0,
      end: 5,
      attributes: { "message.id": "42" },
    }),
  );
  store.addSpan(
    span({
      traceId: b,
      service: "app3",
      name: "POST /PostMessage",
      start: 10,
      end: 40,
      status: "error",
    }),
  );
  const ids = (filter: Parameters<ConsoleStore["traces"]>[0]) =>
    store.traces(filter).map((t) => t.traceId);
  assert.deepEqual(ids({}), [b, a]);
  assert.deepEqual(ids({ service: "app1" }), [a]);
  assert.deepEqual(ids({ name: "postmessage" }), [b]);
  assert.deepEqual(ids({ error: true }), [b]);
  assert.deepEqual(ids({ error: false }), [a]);
  assert.deepEqual(ids({ minMs: 10 }), [b]);
  assert.deepEqual(ids({ attr: { key: "message.id", value: "42" } }), [a]);
  assert.deepEqual(ids({ attr: { key: "message.id", value: "43" } }), []);
  assert.deepEqual(ids({ limit: 1 }), [b]);
  // A log field counts too: the PostgreSQL path carries the message id in its logs only.
  store.addLog(log({ traceId: b, attributes: { message_id: "m-7" } }));
  assert.deepEqual(ids({ attr: { key: "message_id", value: "m-7" } }), [b]);
});

Deno.test("logs: a ring that overwrites the oldest, counted; filters; a trace's logs attached", () => {
  const store = new ConsoleStore({ maxLogs: 3 });
  const id = traceId();
  store.addLog(log({ body: "one", time: 1 }));
  store.addLog(log({ body: "two", time: 2, severity: "warn", traceId: id }));
  store.addLog(
    log({ body: "three", time: 3, service: "app3", attributes: { "message.id": "xyz" } }),
  );
  store.addLog(log({ body: "four", time: 4, severity: "error", traceId: id }));
  assert.deepEqual(store.logs().map((l) => l.body), ["four", "three", "two"]);
  assert.deepEqual(store.stats().logs, { kept: 3, capacity: 3, dropped: 1 });
  assert.deepEqual(store.logs({ severity: "warn" }).map((l) => l.body), ["four", "two"]);
  assert.deepEqual(store.logs({ service: "app3" }).map((l) => l.body), ["three"]);
  assert.deepEqual(store.logs({ q: "XYZ" }).map((l) => l.body), ["three"]);
  assert.deepEqual(store.logs({ traceId: id, limit: 1 }).map((l) => l.body), ["four"]);
  store.addSpan(span({ traceId: id }));
  assert.deepEqual(store.trace(id)!.logs.map((l) => l.body), ["two", "four"]);
});

Deno.test("listeners hear one event per changed trace, gathered, then each log", async () => {
  const store = new ConsoleStore({ notifyDelayMs: 10 });
  const events: ConsoleEvent[] = [];
  const unsubscribe = store.subscribe((event) => events.push(event));
  const flow = kafkaFlow();
  for (const s of flow) store.addSpan(s);
  store.addLog(log({ traceId: flow[0].traceId }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(events.map((e) => e.type), ["trace", "log"]);
  assert.equal(events[0].type === "trace" && events[0].trace.spanCount, 10);
  unsubscribe();
  store.addSpan(span({ traceId: traceId() }));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(events.length, 2);
  store.close();
});

Deno.test("function metrics come from invocation spans; consumer metrics from metric points", () => {
  const store = new ConsoleStore();
  const now = Date.now();
  for (let i = 0; i < 100; i++) {
    const flow = kafkaFlow().map((s) => ({ ...s, start: now - 1000 + s.start }));
    if (i < 5) flow[2] = { ...flow[2], status: "error", durationMs: 500 };
    for (const s of flow) store.addSpan(s);
  }
  const overview = store.metrics();
  const byName = Object.fromEntries(overview.functions.map((f) => [`${f.service} ${f.name}`, f]));
  assert.deepEqual(Object.keys(byName).sort(), [
    "app1 POST /Message/Post-Message",
    "app2 process Purchase",
    "app3 POST /Message/Post-Message",
    "app4 process Purchase2",
    "executor executor",
  ]);
  const app1 = byName["app1 POST /Message/Post-Message"];
  assert.equal(app1.trigger, "http");
  assert.equal(app1.calls, 100);
  assert.equal(app1.errors, 5);
  assert.ok(Math.abs(app1.p50Ms - 6) / 6 < 0.06, `p50 ${app1.p50Ms}`);
  assert.ok(Math.abs(app1.p99Ms - 500) / 500 < 0.06, `p99 ${app1.p99Ms}`);
  assert.equal(byName["executor executor"].trigger, "timer");
  assert.equal(byName["app2 process Purchase"].trigger, "kafka");

  const labels = { topic: "Purchase", group: "app2" };
  store.addMetricPoints([
    {
      time: now - 20_000,
      service: "app2",
      name: "messaging_client_consumed_messages_total",
      kind: "counter",
      labels,
      value: 10,
    },
    {
      time: now - 5_000,
      service: "app2",
      name: "messaging_client_consumed_messages_total",
      kind: "counter",
      labels,
      value: 25,
    },
    {
      time: now - 5_000,
      service: "app2",
      name: "messaging_client_dead_lettered_messages_total",
      kind: "counter",
      labels,
      value: 2,
    },
    {
      time: now - 5_000,
      service: "app2",
      name: "messaging_kafka_consumer_lag",
      kind: "gauge",
      labels: { ...labels, partition: "0" },
      value: 3,
    },
    {
      time: now - 5_000,
      service: "app2",
      name: "messaging_kafka_consumer_lag",
      kind: "gauge",
      labels: { ...labels, partition: "1" },
      value: 4,
    },
  ]);
  const [consumer] = store.metrics().consumers;
  assert.equal(consumer.processed, 25);
  assert.equal(consumer.deadLettered, 2);
  assert.equal(consumer.lag, 7);
  assert.equal(consumer.series.reduce((sum, b) => sum + b.processed, 0), 15);
});

Deno.test("delta metric points add up to running totals", () => {
  const store = new ConsoleStore();
  const labels = { "messaging.destination.name": "Purchase", "messaging.consumer.group.name": "g" };
  const point = {
    service: "s",
    name: "messaging.client.consumed.messages",
    kind: "counter" as const,
    labels,
  };
  store.addMetricPoints([{ ...point, time: Date.now() - 2000, value: 3 }], { delta: true });
  store.addMetricPoints([{ ...point, time: Date.now() - 1000, value: 4 }], { delta: true });
  assert.equal(store.metrics().consumers[0].processed, 7);
});

Deno.test("consumer figures read the semantic-convention names and labels too", () => {
  const store = new ConsoleStore();
  const now = Date.now();
  const labels = {
    messaging_system: "kafka",
    messaging_destination_name: "Purchase2",
    messaging_consumer_group_name: "app4",
  };
  store.addMetricPoints([
    {
      time: now - 1000,
      service: "app4",
      name: "messaging_client_consumed_messages_total",
      kind: "counter",
      labels,
      value: 9,
    },
    {
      time: now - 1000,
      service: "app4",
      name: "messaging_process_retries_total",
      kind: "counter",
      labels,
      value: 4,
    },
    {
      time: now - 1000,
      service: "app4",
      name: "messaging_client_dead_lettered_messages_total",
      kind: "counter",
      labels,
      value: 1,
    },
    {
      time: now - 1000,
      service: "app4",
      name: "messaging_kafka_consumer_lag",
      kind: "gauge",
      labels: { ...labels, messaging_destination_partition_id: "3" },
      value: 5,
    },
  ]);
  const [consumer] = store.metrics().consumers;
  assert.deepEqual(
    [
      consumer.topic,
      consumer.group,
      consumer.processed,
      consumer.failed,
      consumer.deadLettered,
      consumer.lag,
    ],
    ["Purchase2", "app4", 9, 4, 1, 5],
  );
});

Deno.test("ConsoleStore: the host logger's records are kept as written and read as entries", () => {
  const store = new ConsoleStore({ maxLogs: 3 });
  const record = (message: string, traceId?: string): LogRecord => ({
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    service: "app4",
    message,
    ...(traceId ? { trace_id: traceId, span_id: "00f067aa0ba902b7" } : {}),
    message_id: "m-1",
    error: { type: "TimeoutError", message: "slow" },
  });
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  store.addSpan(span({ traceId: id }));
  store.addLoggerRecord(record("first", id), Date.parse("2026-01-02T03:04:05.678Z"));
  store.addLog({ time: 1, service: "app1", severity: "info", body: "from OTLP", attributes: {} });
  store.addLoggerRecord(record("third"), Date.parse("2026-01-02T03:04:05.678Z"));
  assert.deepEqual(store.logs().map((log) => log.body), ["third", "from OTLP", "first"]);
  assert.deepEqual(store.logs({ traceId: id }), [logEntry(record("first", id))]);
  assert.deepEqual(store.logs({ service: "app1" }).map((log) => log.body), ["from OTLP"]);
  const byAttr = store.traces({ attr: { key: "message_id", value: "m-1" } });
  assert.deepEqual(byAttr.map((trace) => trace.traceId), [id]);
  // A fourth record overwrites the oldest, a logger's record or not.
  store.addLoggerRecord(record("fourth"), 2);
  assert.deepEqual(store.logs().map((log) => log.body), ["fourth", "third", "from OTLP"]);
  assert.equal(store.stats().logs.dropped, 1);
});
