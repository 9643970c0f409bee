/**
 * The console's memory: bounded buffers of traces, log records and metric series, filled from
 * the host in process and from OTLP ingest, read through {@linkcode ConsoleReader}.
 *
 * Traces are kept whole, up to `maxTraces` (oldest first out, counted); spans of one trace may
 * arrive over seconds, from several processes and in any order, and are assembled as they come,
 * so a trace's list row changes as its spans arrive. Log records live in a ring of `maxLogs`.
 *
 * @example
 * ```ts
 * import { ConsoleStore } from "./store.ts";
 * const store = new ConsoleStore({ maxTraces: 100 });
 * store.addSpan({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", service: "app1",
 *   name: "POST /Message", kind: "server", start: Date.now(), durationMs: 3, status: "unset",
 *   attributes: {}, events: [], links: [], resource: { "service.name": "app1" },
 * });
 * console.log(store.traces()[0].rootName); // "POST /Message"
 * ```
 * @module
 */
import type { LogRecord } from "../log.ts";
import { logEntry } from "./capture.ts";
import { buildGraph } from "./graph.ts";
import type { ConsoleSink } from "./ingest.ts";
import { InvocationSeries } from "./invocations.ts";
import { MetricSeriesStore } from "./metric_series.ts";
import {
  type AttributeValue,
  type BufferStats,
  type ConsoleEvent,
  type ConsoleReader,
  type FunctionInfo,
  type FunctionsOverview,
  type LogFilter,
  type LogRecordEntry,
  type MetricPoint,
  type MetricsOverview,
  type ServiceGraph,
  SEVERITIES,
  type SpanRecord,
  type TraceDetail,
  type TraceFilter,
  type TraceListItem,
} from "./model.ts";
import { summarizeTrace, traceListItem } from "./summary.ts";

/** Options of a {@linkcode ConsoleStore}. */
export interface ConsoleStoreOptions {
  /** Traces kept (default 10,000). */
  readonly maxTraces?: number;
  /** Log records kept (default 10,000). */
  readonly maxLogs?: number;
  /** Spans kept of one trace; more are dropped and counted (default 5,000). */
  readonly maxSpansPerTrace?: number;
  /** The window of `GET /api/metrics` (default 10 minutes) and its bucket (10 s). */
  readonly metricsWindowMs?: number;
  readonly metricsBucketMs?: number;
  /** Metric points kept per series (default 120) and series kept (default 2,000). */
  readonly pointsPerSeries?: number;
  readonly maxSeries?: number;
  /** How long change notifications are gathered before listeners hear of them (default 100 ms). */
  readonly notifyDelayMs?: number;
}

interface TraceEntry {
  readonly traceId: string;
  readonly spans: SpanRecord[];
  /** Span ids, to drop a span exported twice; only for large traces (small ones are scanned). */
  ids?: Set<string>;
  /** Earliest start and latest end so far, kept as spans arrive (the list sorts and filters by them). */
  start: number;
  end: number;
}

/** Up to this many spans, a duplicate is found by scanning instead of through a Set. */
const SCAN_LIMIT = 32;

/** A source of the Functions page's host-side facts (ports, triggers, readiness). */
export type FunctionsSource = () => readonly FunctionInfo[];

/** Bounded buffers of everything the console shows. */
export class ConsoleStore implements ConsoleReader, ConsoleSink {
  readonly #maxTraces: number;
  readonly #maxLogs: number;
  readonly #maxSpansPerTrace: number;
  readonly #notifyDelayMs: number;
  readonly #traces = new Map<string, TraceEntry>();
  /**
   * Trace ids in arrival order of each trace's first span, as a ring: the slot to fill next
   * holds the oldest. (Deleting a Map's first key over and over makes V8 skip ever more holes to
   * find the next one; the ring finds the oldest in constant time.)
   */
  readonly #traceRing: (string | undefined)[];
  #traceNext = 0;
  #spanCount = 0;
  #tracesDropped = 0;
  #spansDropped = 0;
  /**
   * The log ring. A record the host's own logger wrote is kept as that record (one object, no
   * copy) and becomes a {@linkcode LogRecordEntry} when it is first read; `#logRaw` marks those.
   */
  readonly #logs: (LogRecordEntry | LogRecord | undefined)[];
  readonly #logRaw: Uint8Array;
  #logNext = 0;
  #logCount = 0;
  #logsDropped = 0;
  readonly #invocations: InvocationSeries;
  readonly #metrics: MetricSeriesStore;
  readonly #lastSeen = new Map<string, number>();
  readonly #listeners = new Set<(event: ConsoleEvent) => void>();
  readonly #changedTraces = new Set<string>();
  #pendingLogs: LogRecordEntry[] = [];
  #metricsChanged = false;
  #notifyTimer: ReturnType<typeof setTimeout> | undefined;
  #functionsSource: FunctionsSource = () => [];
  /** Bumped by every span kept or dropped. */
  #version = 0;
  #graphCache: { graph: ServiceGraph; at: number; version: number } | undefined;

  constructor(options: ConsoleStoreOptions = {}) {
    this.#maxTraces = options.maxTraces ?? 10_000;
    this.#maxLogs = options.maxLogs ?? 10_000;
    this.#maxSpansPerTrace = options.maxSpansPerTrace ?? 5_000;
    this.#notifyDelayMs = options.notifyDelayMs ?? 100;
    this.#logs = new Array(this.#maxLogs);
    this.#logRaw = new Uint8Array(this.#maxLogs);
    this.#traceRing = new Array(this.#maxTraces);
    this.#invocations = new InvocationSeries({
      windowMs: options.metricsWindowMs,
      bucketMs: options.metricsBucketMs,
    });
    this.#metrics = new MetricSeriesStore({
      pointsPerSeries: options.pointsPerSeries,
      maxSeries: options.maxSeries,
    });
  }

  /** Sets where the Functions page's host facts come from (the host sets it). */
  setFunctionsSource(source: FunctionsSource): void {
    this.#functionsSource = source;
  }

  /** Adds a finished span to its trace. */
  addSpan(span: SpanRecord): void {
    let entry = this.#traces.get(span.traceId);
    if (!entry) {
      entry = { traceId: span.traceId, spans: [], start: Infinity, end: -Infinity };
      const oldest = this.#traceRing[this.#traceNext];
      if (oldest !== undefined) this.#dropTrace(oldest);
      this.#traceRing[this.#traceNext] = span.traceId;
      this.#traceNext = (this.#traceNext + 1) % this.#maxTraces;
      this.#traces.set(span.traceId, entry);
    }
    if (hasSpan(entry, span.spanId)) return;
    if (entry.spans.length >= this.#maxSpansPerTrace) {
      this.#spansDropped++;
      return;
    }
    entry.spans.push(span);
    this.#version++;
    if (span.start < entry.start) entry.start = span.start;
    if (span.start + span.durationMs > entry.end) entry.end = span.start + span.durationMs;
    if (entry.ids) entry.ids.add(span.spanId);
    else if (entry.spans.length > SCAN_LIMIT) entry.ids = new Set(entry.spans.map((s) => s.spanId));
    this.#spanCount++;
    this.#invocations.record(span);
    this.#seen(span.service, span.start + span.durationMs);
    if (this.#listeners.size > 0) {
      this.#changedTraces.add(span.traceId);
      this.#scheduleNotify();
    }
  }

  /** Adds a log record (the oldest is overwritten when the ring is full). */
  addLog(record: LogRecordEntry): void {
    this.#keepLog(record, 0);
    this.#seen(record.service, record.time);
    if (this.#listeners.size > 0) {
      this.#pendingLogs.push(record);
      this.#scheduleNotify();
    }
  }

  /**
   * Adds a record of the host's own logger, written at `time` (epoch milliseconds), as it is:
   * it is turned into a {@linkcode LogRecordEntry} only when something reads it.
   */
  addLoggerRecord(record: LogRecord, time: number): void {
    this.#keepLog(record, 1);
    this.#seen(record.service, time);
    if (this.#listeners.size > 0) {
      this.#pendingLogs.push(logEntry(record, time));
      this.#scheduleNotify();
    }
  }

  #keepLog(record: LogRecordEntry | LogRecord, raw: number): void {
    if (this.#logs[this.#logNext] !== undefined) this.#logsDropped++;
    else this.#logCount++;
    this.#logs[this.#logNext] = record;
    this.#logRaw[this.#logNext] = raw;
    this.#logNext = (this.#logNext + 1) % this.#maxLogs;
  }

  /** The log in slot `at` as an entry (a logger's record is converted once, in place). */
  #logAt(at: number): LogRecordEntry | undefined {
    const kept = this.#logs[at];
    if (kept === undefined || this.#logRaw[at] === 0) return kept as LogRecordEntry | undefined;
    const entry = logEntry(kept as LogRecord);
    this.#logs[at] = entry;
    this.#logRaw[at] = 0;
    return entry;
  }

  /**
   * Adds metric points (a sample of a registry, or an OTLP metrics request); `delta` points are
   * increments, added to their series' running totals.
   */
  addMetricPoints(points: Iterable<MetricPoint>, options: { delta?: boolean } = {}): void {
    for (const point of points) this.#metrics.add(point, options.delta ?? false);
    if (this.#listeners.size > 0) {
      this.#metricsChanged = true;
      this.#scheduleNotify();
    }
  }

  /**
   * `attr` matches a span attribute or an attribute of one of the trace's log records: the seed's
   * message id is a span attribute on the Kafka path (`messaging.kafka.message.key`) and a log
   * field on both (`message_id`).
   */
  traces(filter: TraceFilter = {}): TraceListItem[] {
    const min = filter.minMs;
    const logged = filter.attr ? this.#tracesWithLogAttribute(filter.attr) : undefined;
    const matching: TraceEntry[] = [];
    for (const entry of this.#traces.values()) {
      if (min !== undefined && entry.end - entry.start < min) continue;
      if (traceMatches(entry, filter, logged)) matching.push(entry);
    }
    matching.sort((a, b) => b.start - a.start);
    // Rows are built for the page asked for only: a full buffer is 10,000 traces.
    return matching.slice(0, filter.limit ?? 100).map((entry) =>
      traceListItem(entry.traceId, entry.spans)
    );
  }

  trace(traceId: string): TraceDetail | undefined {
    const entry = this.#traces.get(traceId.toLowerCase());
    if (!entry) return undefined;
    const spans = [...entry.spans].sort((a, b) => a.start - b.start);
    return {
      traceId: entry.traceId,
      spans,
      logs: this.logs({ traceId: entry.traceId, limit: this.#maxLogs }).reverse(),
      summary: summarizeTrace(spans),
    };
  }

  /** Newest first. */
  logs(filter: LogFilter = {}): LogRecordEntry[] {
    const limit = filter.limit ?? 200;
    const minimum = filter.severity ? SEVERITIES.indexOf(filter.severity) : 0;
    const q = filter.q?.toLowerCase();
    const traceId = filter.traceId?.toLowerCase();
    const result: LogRecordEntry[] = [];
    for (let i = 1; i <= this.#maxLogs && result.length < limit; i++) {
      const at = (this.#logNext - i + this.#maxLogs) % this.#maxLogs;
      const kept = this.#logs[at];
      if (kept === undefined) break;
      // A logger's record of another trace or service is passed over without converting it.
      if (this.#logRaw[at] === 1) {
        const raw = kept as LogRecord;
        if (traceId !== undefined && raw.trace_id !== traceId) continue;
        if (filter.service !== undefined && raw.service !== filter.service) continue;
      }
      const record = this.#logAt(at)!;
      if (traceId !== undefined && record.traceId !== traceId) continue;
      if (filter.service !== undefined && record.service !== filter.service) continue;
      if (minimum > 0 && SEVERITIES.indexOf(record.severity) < minimum) continue;
      if (q !== undefined && !logContains(record, q)) continue;
      result.push(record);
    }
    return result;
  }

  /**
   * Drawn from every buffered span (a full buffer takes tens of milliseconds), so a graph that
   * changed is redrawn at most once a second: a live page asking on every event costs little.
   */
  graph(): ServiceGraph {
    const cached = this.#graphCache;
    const now = Date.now();
    if (cached && (cached.version === this.#version || now - cached.at < 1000)) return cached.graph;
    const spans = function* (traces: Map<string, TraceEntry>) {
      for (const entry of traces.values()) yield entry.spans;
    };
    const graph = buildGraph(spans(this.#traces));
    this.#graphCache = { graph, at: now, version: this.#version };
    return graph;
  }

  metrics(): MetricsOverview {
    const now = Date.now();
    const { windowMs, bucketMs } = this.#invocations;
    return {
      windowMs,
      bucketMs,
      functions: this.#invocations.overview(now),
      consumers: this.#metrics.consumers(now, windowMs, bucketMs),
    };
  }

  functions(): FunctionsOverview {
    const hosted = this.#functionsSource().map((info) => ({
      ...info,
      lastSeen: this.#lastSeen.get(info.service) ?? info.lastSeen,
    }));
    const known = new Set(hosted.map((info) => info.service));
    const seen: FunctionInfo[] = [...this.#lastSeen.entries()]
      .filter(([service]) => !known.has(service))
      .map(([service, lastSeen]) => ({
        service,
        source: "otlp",
        http: [],
        consumers: [],
        crons: [],
        lastSeen,
      }));
    return { functions: [...hosted, ...seen] };
  }

  stats(): BufferStats {
    return {
      traces: {
        kept: this.#traces.size,
        capacity: this.#maxTraces,
        dropped: this.#tracesDropped,
      },
      spans: { kept: this.#spanCount, dropped: this.#spansDropped },
      logs: { kept: this.#logCount, capacity: this.#maxLogs, dropped: this.#logsDropped },
      metricPoints: {
        kept: this.#metrics.kept,
        dropped: this.#metrics.dropped + this.#invocations.dropped,
      },
    };
  }

  subscribe(listener: (event: ConsoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Stops the pending notification timer (listeners hear nothing more). */
  close(): void {
    clearTimeout(this.#notifyTimer);
    this.#notifyTimer = undefined;
    this.#listeners.clear();
  }

  #tracesWithLogAttribute(attr: { key: string; value: string }): Set<string> {
    const ids = new Set<string>();
    for (let at = 0; at < this.#maxLogs; at++) {
      if (this.#logRaw[at] === 1 && (this.#logs[at] as LogRecord).trace_id === undefined) continue;
      const record = this.#logAt(at);
      if (record?.traceId === undefined) continue;
      const value = record.attributes[attr.key];
      if (value !== undefined && value !== null && attributeText(value) === attr.value) {
        ids.add(record.traceId);
      }
    }
    return ids;
  }

  #dropTrace(oldest: string): void {
    const entry = this.#traces.get(oldest)!;
    this.#traces.delete(oldest);
    this.#changedTraces.delete(oldest);
    this.#tracesDropped++;
    this.#version++;
    this.#spansDropped += entry.spans.length;
    this.#spanCount -= entry.spans.length;
  }

  #seen(service: string, time: number): void {
    const last = this.#lastSeen.get(service);
    if (last === undefined || time > last) this.#lastSeen.set(service, time);
  }

  /** Changes are gathered for a moment, so a trace of nine spans is one event, not nine. */
  #scheduleNotify(): void {
    if (this.#notifyTimer !== undefined) return;
    const timer = setTimeout(() => this.#notify(), this.#notifyDelayMs);
    Deno.unrefTimer(timer);
    this.#notifyTimer = timer;
  }

  #notify(): void {
    this.#notifyTimer = undefined;
    const events: ConsoleEvent[] = [];
    for (const traceId of this.#changedTraces) {
      const entry = this.#traces.get(traceId);
      if (entry) events.push({ type: "trace", trace: traceListItem(traceId, entry.spans) });
    }
    this.#changedTraces.clear();
    for (const log of this.#pendingLogs) events.push({ type: "log", log });
    this.#pendingLogs = [];
    if (this.#metricsChanged) events.push({ type: "metrics" });
    this.#metricsChanged = false;
    for (const event of events) {
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch {
          // One broken listener (a closed stream) must not starve the others.
        }
      }
    }
  }
}

function hasSpan(entry: TraceEntry, spanId: string): boolean {
  if (entry.ids) return entry.ids.has(spanId);
  for (const span of entry.spans) if (span.spanId === spanId) return true;
  return false;
}

function attributeText(value: AttributeValue): string {
  return Array.isArray(value) ? value.join(",") : String(value);
}

function traceMatches(
  entry: TraceEntry,
  filter: TraceFilter,
  loggedWithAttr: ReadonlySet<string> | undefined,
): boolean {
  const spans = entry.spans;
  if (filter.service !== undefined && !spans.some((span) => span.service === filter.service)) {
    return false;
  }
  if (filter.name !== undefined) {
    const name = filter.name.toLowerCase();
    if (!spans.some((span) => span.name.toLowerCase().includes(name))) return false;
  }
  if (filter.error !== undefined) {
    const failed = spans.some((span) => span.status === "error");
    if (failed !== filter.error) return false;
  }
  if (filter.attr !== undefined) {
    const { key, value } = filter.attr;
    if (
      !loggedWithAttr?.has(entry.traceId) && !spans.some((span) => {
        const found = span.attributes[key];
        return found !== undefined && found !== null && attributeText(found) === value;
      })
    ) return false;
  }
  return true;
}

function logContains(record: LogRecordEntry, q: string): boolean {
  if (record.body.toLowerCase().includes(q)) return true;
  for (const value of Object.values(record.attributes)) {
    if (value !== null && attributeText(value).toLowerCase().includes(q)) return true;
  }
  return false;
}
