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
import type { Attributes, LogRecordEntry, SpanKindName, SpanRecord } from "./model.ts";

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
  const post = { "http.request.method": "POST" };
  const purchase = { "messaging.destination.name": "Purchase" };
  const purchase2 = { "messaging.destination.name": "Purchase2" };
  // service, name, kind, parent (an earlier row), start, end, attributes
  const rows: [string, string, SpanKindName, number | undefined, number, number, Attributes?][] = [
    ["executor", "executor", "internal", undefined, 0, 40, { "faas.trigger": "timer" }],
    ["executor", "POST", "client", 0, 1, 9, post],
    ["app1", "POST /Message/Post-Message", "server", 1, 2, 8],
    ["app1", "send Purchase", "producer", 2, 3, 6, purchase],
    ["app2", "process Purchase", "consumer", 3, 10, 25, purchase],
    ["app2", "POST", "client", 4, 11, 20, post],
    ["app3", "POST /Message/Post-Message", "server", 5, 12, 19],
    ["app3", "send Purchase2", "producer", 6, 13, 18, purchase2],
    ["app4", "process Purchase2", "consumer", 7, 24, 35, purchase2],
    ["app4", "SET", "client", 8, 25, 27, { "db.system.name": "redis" }],
  ];
  const spans: SpanRecord[] = [];
  for (const [service, name, kind, parent, start, end, attributes] of rows) {
    spans.push(span({
      traceId: trace,
      service,
      name,
      kind,
      ...(parent === undefined ? {} : { parentSpanId: spans[parent].spanId }),
      start,
      end,
      ...(attributes ? { attributes: { ...attributes } } : {}),
    }));
  }
  return spans;
}
