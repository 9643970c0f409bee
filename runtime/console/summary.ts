/**
 * Pure functions over the spans of one trace: its list row, and where its time went.
 *
 * @example
 * ```ts
 * import { summarizeTrace } from "./summary.ts";
 * const summary = summarizeTrace([]);
 * console.log(summary.durationMs); // 0
 * ```
 * @module
 */
import type { SpanRecord, TraceListItem, TraceSummary } from "./model.ts";

/** The end of a span, in epoch milliseconds. */
export const spanEnd = (span: SpanRecord): number => span.start + span.durationMs;

/** `db.system.name`, or the older `db.system` older instrumentations still send. */
export function dbSystem(span: SpanRecord): string | undefined {
  const value = span.attributes["db.system.name"] ?? span.attributes["db.system"];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The Kafka (or other messaging) destination of a PRODUCER or CONSUMER span. */
export function destination(span: SpanRecord): string | undefined {
  const value = span.attributes["messaging.destination.name"];
  if (typeof value === "string" && value !== "") return value;
  // Older conventions named the span `<topic> send|process`; ours `send|process <topic>`.
  const match = /^(?:send|publish|process|receive) (.+)$/.exec(span.name);
  return match?.[1];
}

/** Total length of the union of `[start, end)` intervals: overlaps count once. */
export function unionMs(intervals: Array<readonly [number, number]>): number {
  const sorted = intervals.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let currentStart = -Infinity;
  let currentEnd = -Infinity;
  for (const [start, end] of sorted) {
    if (start > currentEnd) {
      if (currentEnd > currentStart) total += currentEnd - currentStart;
      currentStart = start;
      currentEnd = end;
    } else if (end > currentEnd) {
      currentEnd = end;
    }
  }
  if (currentEnd > currentStart) total += currentEnd - currentStart;
  return total;
}

/**
 * The root of a trace: the span without a parent, or, while it has not arrived (spans of one
 * trace come from several processes, in any order), the earliest span whose parent is missing.
 */
export function findRoot(spans: readonly SpanRecord[]): SpanRecord | undefined {
  let orphan: SpanRecord | undefined;
  let ids: Set<string> | undefined;
  for (const span of spans) {
    if (span.parentSpanId === undefined) return span;
  }
  for (const span of spans) {
    ids ??= new Set(spans.map((s) => s.spanId));
    if (!ids.has(span.parentSpanId!) && (orphan === undefined || span.start < orphan.start)) {
      orphan = span;
    }
  }
  return orphan ?? spans[0];
}

/**
 * Services of the spans in the order the trace reached them: depth first from the root (children
 * by start), so a callee never comes before its caller, whatever the services' clocks say (each
 * service's server span is timed from its own clock reading, which may be a millisecond behind
 * its caller's). A span whose parent is not here counts as a root.
 */
export function servicesOf(spans: readonly SpanRecord[]): string[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | undefined, SpanRecord[]>();
  for (const span of spans) {
    const parent = span.parentSpanId !== undefined && ids.has(span.parentSpanId)
      ? span.parentSpanId
      : undefined;
    let list = children.get(parent);
    if (list === undefined) children.set(parent, list = []);
    list.push(span);
  }
  const order = new Set<string>();
  const visited = new Set<SpanRecord>();
  const visit = (list: readonly SpanRecord[]) => {
    for (const span of list.toSorted((a, b) => a.start - b.start)) {
      if (visited.has(span)) continue;
      visited.add(span);
      order.add(span.service);
      visit(children.get(span.spanId) ?? []);
    }
  };
  visit(children.get(undefined) ?? []);
  // Spans in a parent cycle (only a broken exporter sends those) are reached by start.
  visit(spans.filter((span) => !visited.has(span)));
  return [...order];
}

/** The `GET /api/traces` row of a trace. */
export function traceListItem(traceId: string, spans: readonly SpanRecord[]): TraceListItem {
  const root = findRoot(spans);
  let start = Infinity;
  let end = -Infinity;
  let error = false;
  for (const span of spans) {
    if (span.start < start) start = span.start;
    const spanStop = spanEnd(span);
    if (spanStop > end) end = spanStop;
    if (span.status === "error") error = true;
  }
  return {
    traceId,
    rootService: root?.service ?? "",
    rootName: root?.name ?? "",
    start: spans.length > 0 ? start : 0,
    durationMs: spans.length > 0 ? end - start : 0,
    spanCount: spans.length,
    services: servicesOf(spans),
    error,
  };
}

/**
 * Where a trace's time went. PostgreSQL and Redis: CLIENT spans by `db.system.name`. Kafka: send
 * is the PRODUCER spans, process the CONSUMER spans, and wait the time each message spent in the
 * topic: from its PRODUCER span's end (the broker acknowledged it) to the start of the CONSUMER
 * span that is its child or links to it, so send, wait and process never overlap. HTTP: CLIENT
 * spans with an HTTP method (the callee's work included). Each figure is a union of intervals.
 */
export function summarizeTrace(spans: readonly SpanRecord[]): TraceSummary {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const postgresql: Array<[number, number]> = [];
  const redis: Array<[number, number]> = [];
  const send: Array<[number, number]> = [];
  const wait: Array<[number, number]> = [];
  const process: Array<[number, number]> = [];
  const http: Array<[number, number]> = [];
  let errors = 0;
  let start = Infinity;
  let end = -Infinity;
  for (const span of spans) {
    const interval: [number, number] = [span.start, spanEnd(span)];
    if (interval[0] < start) start = interval[0];
    if (interval[1] > end) end = interval[1];
    if (span.status === "error") errors++;
    if (span.kind === "client") {
      const system = dbSystem(span);
      if (system === "postgresql") postgresql.push(interval);
      else if (system === "redis") redis.push(interval);
      else if (system === undefined && span.attributes["http.request.method"] !== undefined) {
        http.push(interval);
      }
    } else if (span.kind === "producer") {
      send.push(interval);
    } else if (span.kind === "consumer") {
      process.push(interval);
      const producer = producerOf(span, byId);
      if (producer) wait.push([spanEnd(producer), span.start]);
    }
  }
  return {
    durationMs: spans.length > 0 ? end - start : 0,
    postgresqlMs: unionMs(postgresql),
    redisMs: unionMs(redis),
    kafka: { sendMs: unionMs(send), waitMs: unionMs(wait), processMs: unionMs(process) },
    httpMs: unionMs(http),
    spanCount: spans.length,
    services: servicesOf(spans),
    errors,
  };
}

/** The PRODUCER span a CONSUMER span came from: its parent, or the first span it links to. */
function producerOf(
  consumer: SpanRecord,
  byId: ReadonlyMap<string, SpanRecord>,
): SpanRecord | undefined {
  const parent = consumer.parentSpanId ? byId.get(consumer.parentSpanId) : undefined;
  if (parent?.kind === "producer") return parent;
  for (const link of consumer.links) {
    const linked = byId.get(link.spanId);
    if (linked?.kind === "producer") return linked;
  }
  return undefined;
}
