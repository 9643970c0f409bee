/**
 * Span and log builders for the console's tests: the seed's two flows, with real timing shapes.
 *
 * @example
 * ```ts
 * import { span } from "./_fixtures.ts";
 * console.log(span({ name: "POST /Message" }).kind); // "internal"
 * ```
 * @module
 */
import type { LogRecordEntry, SpanRecord } from "./model.ts";

let next = 1;

/** A fresh 16-hex-digit span id. */
export function spanId(): string {
  return (next++).toString(16).padStart(16, "0");
}

/** A fresh 32-hex-digit trace id. */
export function traceId(): string {
  return (next++).toString(16).padStart(32, "a");
}

/** A span with defaults for what the test does not care about. */
export function span(fields: Partial<SpanRecord> & { end?: number }): SpanRecord {
  const { end, ...rest } = fields;
  const start = rest.start ?? 1_000;
  return {
    traceId: "a".repeat(32),
    spanId: spanId(),
    service: "app1",
    name: "span",
    kind: "internal",
    start,
    durationMs: end !== undefined ? end - start : 1,
    status: "unset",
    attributes: {},
    events: [],
    links: [],
    resource: { "service.name": rest.service ?? "app1" },
    ...rest,
  };
}

/** A log record. */
export function log(fields: Partial<LogRecordEntry>): LogRecordEntry {
  return {
    time: 1_000,
    service: "app1",
    severity: "info",
    body: "hello",
    attributes: {},
    ...fields,
  };
}

/**
 * The seed's Kafka flow as one trace: executor → app1 → Purchase → app2 → app3 → Purchase2 →
 * app4 → redis. Times in ms from 0; the message waits 4 ms in Purchase and 6 ms in Purchase2.
 */
export function kafkaFlow(trace = traceId()): SpanRecord[] {
  const s = (f: Partial<SpanRecord> & { end?: number }) => span({ traceId: trace, ...f });
  const cron = s({
    service: "executor",
    name: "executor",
    start: 0,
    end: 40,
    attributes: { "faas.trigger": "timer" },
  });
  const call1 = s({
    service: "executor",
    name: "POST",
    kind: "client",
    parentSpanId: cron.spanId,
    start: 1,
    end: 9,
    attributes: { "http.request.method": "POST" },
  });
  const app1 = s({
    service: "app1",
    name: "POST /Message/Post-Message",
    kind: "server",
    parentSpanId: call1.spanId,
    start: 2,
    end: 8,
  });
  const send1 = s({
    service: "app1",
    name: "send Purchase",
    kind: "producer",
    parentSpanId: app1.spanId,
    start: 3,
    end: 6,
    attributes: { "messaging.destination.name": "Purchase" },
  });
  const process1 = s({
    service: "app2",
    name: "process Purchase",
    kind: "consumer",
    parentSpanId: send1.spanId,
    start: 10,
    end: 25,
    attributes: { "messaging.destination.name": "Purchase" },
  });
  const call2 = s({
    service: "app2",
    name: "POST",
    kind: "client",
    parentSpanId: process1.spanId,
    start: 11,
    end: 20,
    attributes: { "http.request.method": "POST" },
  });
  const app3 = s({
    service: "app3",
    name: "POST /Message/Post-Message",
    kind: "server",
    parentSpanId: call2.spanId,
    start: 12,
    end: 19,
  });
  const send2 = s({
    service: "app3",
    name: "send Purchase2",
    kind: "producer",
    parentSpanId: app3.spanId,
    start: 13,
    end: 18,
    attributes: { "messaging.destination.name": "Purchase2" },
  });
  const process2 = s({
    service: "app4",
    name: "process Purchase2",
    kind: "consumer",
    parentSpanId: send2.spanId,
    start: 24,
    end: 35,
    attributes: { "messaging.destination.name": "Purchase2" },
  });
  const redis = s({
    service: "app4",
    name: "SET",
    kind: "client",
    parentSpanId: process2.spanId,
    start: 25,
    end: 27,
    attributes: { "db.system.name": "redis" },
  });
  return [cron, call1, app1, send1, process1, call2, app3, send2, process2, redis];
}
