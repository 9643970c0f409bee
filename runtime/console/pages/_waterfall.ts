/**
 * A trace's spans as waterfall rows: depth-first from the root, children by start time, each row
 * with its depth, ancestors, self time, the call it answers and, for a Kafka consumer, the time
 * its message waited in the topic.
 * @module
 */
import type { SpanRecord } from "../model.ts";

/** One row of the waterfall. */
export interface WaterfallRow {
  readonly span: SpanRecord;
  readonly depth: number;
  /** Span ids from the root down to the parent. */
  readonly ancestors: readonly string[];
  readonly children: number;
  /** Its duration less the time covered by its children (clipped to it). */
  readonly selfMs: number;
  /** Its parent is named but not (yet) in the trace. */
  readonly orphan: boolean;
  /** For a client or producer span: the service (or system) that answered it. */
  readonly peer?: string;
  /**
   * For a consumer span whose producer span is its parent or linked: the time in the topic, from
   * the send's end (the broker acknowledged it) to this start, as the trace summary counts it.
   */
  readonly wait?: { readonly from: number; readonly ms: number; readonly topic?: string };
}

/** The rows, and the time span they cover. */
export interface Waterfall {
  readonly rows: readonly WaterfallRow[];
  readonly start: number;
  readonly end: number;
  /** The span with the most self time: where the trace spent itself. */
  readonly slowestSelf?: string;
}

/** Builds the rows of `spans` (any order; missing parents make extra roots). */
export function buildWaterfall(spans: readonly SpanRecord[]): Waterfall {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const span of spans) {
    if (span.parentSpanId !== undefined && byId.has(span.parentSpanId)) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a: SpanRecord, b: SpanRecord) =>
    a.start - b.start || b.durationMs - a.durationMs;
  roots.sort((a, b) =>
    Number(a.parentSpanId !== undefined) - Number(b.parentSpanId !== undefined) || byStart(a, b)
  );
  const rows: WaterfallRow[] = [];
  const visited = new Set<string>();
  const visit = (span: SpanRecord, depth: number, ancestors: string[]) => {
    if (visited.has(span.spanId)) return; // a cycle in bad input must not hang the page
    visited.add(span.spanId);
    const kids = (children.get(span.spanId) ?? []).toSorted(byStart);
    const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    rows.push({
      span,
      depth,
      ancestors,
      children: kids.length,
      selfMs: selfTime(span, kids),
      orphan: span.parentSpanId !== undefined && parent === undefined,
      peer: peerOf(span, kids),
      wait: waitInTopic(span, parent, byId),
    });
    for (const kid of kids) visit(kid, depth + 1, [...ancestors, span.spanId]);
  };
  for (const root of roots) visit(root, 0, []);
  // Spans in a parent cycle (bad input) have no root above them: shown from the earliest on.
  for (const span of spans.toSorted(byStart)) if (!visited.has(span.spanId)) visit(span, 0, []);
  const start = Math.min(...spans.map((span) => span.start));
  const end = Math.max(...spans.map((span) => span.start + span.durationMs));
  let slowestSelf: WaterfallRow | undefined;
  for (const row of rows) if (!slowestSelf || row.selfMs > slowestSelf.selfMs) slowestSelf = row;
  return {
    rows,
    start: Number.isFinite(start) ? start : 0,
    end: Number.isFinite(end) ? end : 0,
    slowestSelf: rows.length > 1 ? slowestSelf?.span.spanId : undefined,
  };
}

function waitInTopic(
  span: SpanRecord,
  parent: SpanRecord | undefined,
  byId: ReadonlyMap<string, SpanRecord>,
): WaterfallRow["wait"] {
  if (span.kind !== "consumer") return undefined;
  const producer = parent?.kind === "producer" ? parent : span.links
    .map((link) => byId.get(link.spanId))
    .find((linked) => linked?.kind === "producer");
  if (!producer) return undefined;
  const sent = producer.start + producer.durationMs;
  return {
    from: sent,
    ms: Math.max(0, span.start - sent),
    topic: textAttribute(span, "messaging.destination.name"),
  };
}

function textAttribute(span: SpanRecord, key: string): string | undefined {
  const value = span.attributes[key];
  return value === undefined || value === null ? undefined : String(value);
}

/** The time of `span` not covered by its children. */
function selfTime(span: SpanRecord, kids: readonly SpanRecord[]): number {
  const from = span.start;
  const to = span.start + span.durationMs;
  const intervals = kids
    .map((kid) => [Math.max(from, kid.start), Math.min(to, kid.start + kid.durationMs)] as const)
    .filter(([a, b]) => b > a)
    .toSorted((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = from;
  for (const [a, b] of intervals) {
    if (b <= end) continue;
    covered += b - Math.max(a, end);
    end = b;
  }
  return Math.max(0, span.durationMs - covered);
}

/** Who answered a client or producer span: the callee's service, the database, the topic. */
function peerOf(span: SpanRecord, kids: readonly SpanRecord[]): string | undefined {
  if (span.kind !== "client" && span.kind !== "producer") return undefined;
  const system = textAttribute(span, "db.system.name") ?? textAttribute(span, "db.system");
  if (system) return system;
  if (span.kind === "producer") {
    const topic = textAttribute(span, "messaging.destination.name");
    return topic && !span.name.includes(topic) ? topic : undefined;
  }
  const callee = kids.find((kid) => kid.kind === "server" && kid.service !== span.service);
  return callee?.service ?? textAttribute(span, "server.address");
}
