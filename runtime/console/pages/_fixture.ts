/**
 * A {@linkcode ConsoleReader} over recorded data for the pages' unit tests: the real flow's two
 * traces (captured from the host: spans, attributes and log records as it exports them), repeated
 * once per executor tick up to now, one tick with PostgreSQL failing, plus metrics and functions
 * shaped as the host reports them.
 * @module
 */
import type {
  BufferStats,
  ConsoleEvent,
  ConsoleReader,
  FunctionsOverview,
  LogFilter,
  LogRecordEntry,
  MetricsOverview,
  ServiceGraph,
  Severity,
  SpanRecord,
  TraceDetail,
  TraceFilter,
  TraceListItem,
  TraceSummary,
} from "../model.ts";
import { SEVERITIES } from "../model.ts";
import recorded from "./testdata/flow.json" with { type: "json" };

/** What `testdata/flow.json` holds: one tick's spans and records, times relative to its start. */
interface RecordedFlow {
  readonly resource: Record<string, string | number>;
  readonly spans: ReadonlyArray<{
    readonly traceId: string;
    readonly spanId: string;
    readonly parentSpanId?: string;
    readonly service: string;
    readonly name: string;
    readonly kind: string;
    readonly offset: number;
    readonly durationMs: number;
    readonly attributes: Record<string, string | number | boolean>;
  }>;
  readonly logs: ReadonlyArray<{
    readonly offset: number;
    readonly service: string;
    readonly severity: string;
    readonly body: string;
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes: Record<string, string | number | boolean>;
  }>;
}
const flow = recorded as unknown as RecordedFlow;

/** The trace id and root name of each trace of one recorded tick. */
export const FLOW_TRACES = {
  postgres: { traceId: "f489ca58b35b99230bc04e4cde2b0dee", root: "call-message", spans: 6 },
  kafka: { traceId: "ed678ee16eb48b8bf41dfbebc7506a53", root: "call-post-message", spans: 10 },
} as const;

/** Options of {@linkcode FixtureReader}. */
export interface FixtureOptions {
  /** Executor ticks to make, 5 s apart, the last one ending at `now`. */
  readonly ticks?: number;
  /** Which tick (0 = oldest) has PostgreSQL failing; none when absent. */
  readonly failingTick?: number;
  readonly now?: number;
}

/** The recorded flow as a console would hold it. */
export class FixtureReader implements ConsoleReader {
  readonly spans: SpanRecord[] = [];
  readonly records: LogRecordEntry[] = [];
  readonly now: number;
  readonly #listeners = new Set<(event: ConsoleEvent) => void>();

  constructor(options: FixtureOptions = {}) {
    const ticks = options.ticks ?? 12;
    this.now = options.now ?? Date.now();
    for (let tick = 0; tick < ticks; tick++) {
      const base = this.now - (ticks - tick) * 5000 + 3;
      this.#addTick(tick, base, tick === options.failingTick);
    }
  }

  /** The id the recorded `id` gets in tick `tick` (tick 0 keeps the recorded ids). */
  static idFor(id: string, tick: number): string {
    if (tick === 0) return id;
    const suffix = tick.toString(16).padStart(4, "0");
    return id.slice(0, id.length - 4) + suffix;
  }

  #addTick(tick: number, base: number, failing: boolean): void {
    const jitter = 1 + ((tick * 7) % 5) / 10;
    for (const span of flow.spans) {
      const failed = failing &&
        ["INSERT messages", "POST /PostMessage"].includes(span.name);
      const attributes: Record<string, string | number | boolean> = { ...span.attributes };
      if (failed && span.name === "POST /PostMessage") {
        attributes["http.response.status_code"] = 503;
      }
      if (failed) attributes["error.type"] = "ECONNREFUSED";
      this.spans.push({
        traceId: FixtureReader.idFor(span.traceId, tick),
        spanId: FixtureReader.idFor(span.spanId, tick),
        parentSpanId: span.parentSpanId ? FixtureReader.idFor(span.parentSpanId, tick) : undefined,
        service: span.service,
        name: span.name,
        kind: span.kind as SpanRecord["kind"],
        start: base + span.offset * jitter,
        durationMs: span.durationMs * jitter,
        status: failed ? "error" : "unset",
        statusMessage: failed ? "connect ECONNREFUSED 127.0.0.1:5432" : undefined,
        attributes,
        events: failed && span.name === "INSERT messages"
          ? [{
            time: base + span.offset * jitter + 1,
            name: "exception",
            attributes: {
              "exception.type": "ECONNREFUSED",
              "exception.message": "connect ECONNREFUSED 127.0.0.1:5432",
            },
          }]
          : [],
        links: [],
        resource: {
          ...flow.resource,
          "service.name": span.service,
          "service.instance.id": `vm:12752:${span.service}`,
        },
        scope: { name: "otel-functions", version: "0.1.0" },
      });
    }
    for (const log of flow.logs) {
      const failed = failing && log.body === "message stored";
      this.records.push({
        time: base + log.offset * jitter,
        service: log.service,
        severity: (failed ? "error" : log.severity) as Severity,
        body: failed ? "message not stored: PostgreSQL is unavailable" : log.body,
        traceId: FixtureReader.idFor(log.traceId, tick),
        spanId: FixtureReader.idFor(log.spanId, tick),
        attributes: log.attributes,
      });
    }
  }

  /** Sends `event` to every subscriber, as the store does when data arrives. */
  emit(event: ConsoleEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  traces(filter: TraceFilter = {}): TraceListItem[] {
    const ids = [...new Set(this.spans.map((span) => span.traceId))];
    const items = ids.map((id) => this.#item(id)).sort((a, b) => b.start - a.start);
    return items.filter((item) => {
      const spans = this.spans.filter((span) => span.traceId === item.traceId);
      if (filter.service && !item.services.includes(filter.service)) return false;
      if (filter.name && !spans.some((span) => span.name.includes(filter.name!))) return false;
      if (filter.error && !item.error) return false;
      if (filter.minMs !== undefined && item.durationMs < filter.minMs) return false;
      const attr = filter.attr;
      if (attr && !spans.some((span) => String(span.attributes[attr.key]) === attr.value)) {
        return false;
      }
      return true;
    }).slice(0, filter.limit ?? 100);
  }

  #item(traceId: string): TraceListItem {
    const spans = this.spans.filter((span) => span.traceId === traceId);
    const root = spans.find((span) => span.parentSpanId === undefined) ?? spans[0];
    const start = Math.min(...spans.map((span) => span.start));
    const end = Math.max(...spans.map((span) => span.start + span.durationMs));
    return {
      traceId,
      rootService: root.service,
      rootName: root.name,
      start,
      durationMs: end - start,
      spanCount: spans.length,
      services: [...new Set(spans.map((span) => span.service))],
      error: spans.some((span) => span.status === "error"),
    };
  }

  trace(traceId: string): TraceDetail | undefined {
    const spans = this.spans.filter((span) => span.traceId === traceId);
    if (spans.length === 0) return undefined;
    return {
      traceId,
      spans,
      logs: this.records.filter((log) => log.traceId === traceId).sort((a, b) => a.time - b.time),
      summary: summarize(spans),
    };
  }

  logs(filter: LogFilter = {}): LogRecordEntry[] {
    const minimum = filter.severity ? SEVERITIES.indexOf(filter.severity) : 0;
    const q = filter.q?.toLowerCase();
    return this.records.filter((log) =>
      (!filter.traceId || log.traceId === filter.traceId) &&
      (!filter.service || log.service === filter.service) &&
      SEVERITIES.indexOf(log.severity) >= minimum &&
      (!q || log.body.toLowerCase().includes(q) ||
        Object.values(log.attributes).some((value) => String(value).toLowerCase().includes(q)))
    ).sort((a, b) => b.time - a.time).slice(0, filter.limit ?? 200);
  }

  graph(): ServiceGraph {
    const ticks = this.spans.filter((span) => span.name === "call-message").length;
    const errors =
      this.spans.filter((span) => span.name === "INSERT messages" && span.status === "error")
        .length;
    const edge = (source: string, target: string, p95Ms: number, failed = 0) => ({
      source,
      target,
      calls: ticks,
      errors: failed,
      p95Ms,
    });
    return {
      nodes: [
        { id: "executor", type: "service" },
        { id: "app1", type: "service" },
        { id: "app2", type: "service" },
        { id: "app3", type: "service" },
        { id: "app4", type: "service" },
        { id: "postgresql", type: "database" },
        { id: "redis", type: "cache" },
        { id: "Purchase", type: "topic" },
        { id: "Purchase2", type: "topic" },
      ],
      edges: [
        { ...edge("executor", "app1", 38.2), calls: ticks * 2 },
        { ...edge("app1", "app3", 31.5, errors) },
        edge("app1", "Purchase", 1.6),
        edge("Purchase", "app2", 16.3),
        edge("app2", "app3", 13.9),
        edge("app3", "Purchase2", 1.9),
        edge("Purchase2", "app4", 17.1),
        edge("app4", "redis", 15.2),
        edge("app3", "postgresql", 17.4, errors),
      ],
    };
  }

  metrics(): MetricsOverview {
    const bucketMs = 10_000;
    const buckets = 30;
    const functions = [
      ["executor", "call-message", "timer", 38],
      ["executor", "call-post-message", "timer", 36],
      ["app1", "POST /Message", "http", 27],
      ["app1", "POST /Message/Post-Message", "http", 6.4],
      ["app2", "process Purchase", "kafka", 15],
      ["app3", "POST /PostMessage", "http", 17],
      ["app3", "POST /Message/Post-Message", "http", 4.1],
      ["app4", "process Purchase2", "kafka", 16],
    ] as const;
    return {
      windowMs: bucketMs * buckets,
      bucketMs,
      functions: functions.map(([service, name, trigger, p95], index) => {
        const series = Array.from({ length: buckets }, (_, i) => {
          const calls = i < 4 ? 0 : 2;
          const wave = 1 + 0.35 * Math.sin((i + index) / 2.5);
          return {
            time: this.now - (buckets - i) * bucketMs,
            calls,
            errors: name === "POST /PostMessage" && i === 20 ? 1 : 0,
            p95Ms: calls === 0 ? 0 : p95 * wave,
          };
        });
        const calls = series.reduce((sum, point) => sum + point.calls, 0);
        return {
          service,
          name,
          trigger,
          calls,
          errors: series.reduce((sum, point) => sum + point.errors, 0),
          rate: calls / (bucketMs * buckets / 1000),
          p50Ms: p95 * 0.6,
          p95Ms: p95,
          p99Ms: p95 * 1.4,
          series,
        };
      }),
      consumers: [["app2", "Purchase"], ["app4", "Purchase2"]].map(([service, topic]) => ({
        service,
        topic,
        group: service,
        processed: 52,
        failed: 0,
        deadLettered: service === "app4" ? 1 : 0,
        lag: 0,
        series: Array.from({ length: buckets }, (_, i) => ({
          time: this.now - (buckets - i) * bucketMs,
          processed: i < 4 ? 0 : 2,
          failed: 0,
          lag: i === 17 ? 3 : 0,
        })),
      })),
    };
  }

  functions(): FunctionsOverview {
    const nextRun = Math.ceil(this.now / 5000) * 5000;
    const common = { source: "host" as const, ready: true, lastSeen: this.now - 800 };
    return {
      functions: [
        {
          ...common,
          service: "executor",
          url: "http://127.0.0.1:8005",
          port: 8005,
          checks: {},
          http: [],
          consumers: [],
          crons: [
            { name: "call-message", schedule: "*/5 * * * * *", nextRun },
            { name: "call-post-message", schedule: "*/5 * * * * *", nextRun },
          ],
        },
        {
          ...common,
          service: "app1",
          url: "http://127.0.0.1:8001",
          port: 8001,
          checks: { kafka: "up" },
          http: [{ method: "POST", path: "/Message" }, {
            method: "POST",
            path: "/Message/Post-Message",
          }],
          consumers: [],
          crons: [],
        },
        {
          ...common,
          service: "app2",
          url: "http://127.0.0.1:8002",
          port: 8002,
          checks: { kafka: "up" },
          http: [],
          consumers: [{ name: "forward-purchase", topic: "Purchase", group: "app2" }],
          crons: [],
        },
        {
          ...common,
          service: "app3",
          url: "http://127.0.0.1:8003",
          port: 8003,
          ready: false,
          checks: { postgres: "down: connect ECONNREFUSED", kafka: "up" },
          http: [
            { method: "POST", path: "/PostMessage" },
            { method: "POST", path: "/Message/Post-Message" },
            { method: "GET", path: "/Message/:id" },
          ],
          consumers: [],
          crons: [],
        },
        {
          ...common,
          service: "app4",
          url: "http://127.0.0.1:8004",
          port: 8004,
          checks: { redis: "up", kafka: "up" },
          http: [{ method: "GET", path: "/Message/:id" }],
          consumers: [{ name: "cache-message", topic: "Purchase2", group: "app4" }],
          crons: [],
        },
      ],
    };
  }

  stats(): BufferStats {
    const traces = new Set(this.spans.map((span) => span.traceId)).size;
    return {
      traces: { kept: traces, capacity: 10_000, dropped: 0 },
      spans: { kept: this.spans.length, dropped: 0 },
      logs: { kept: this.records.length, capacity: 10_000, dropped: 0 },
      metricPoints: { kept: 0, dropped: 0 },
    };
  }

  subscribe(listener: (event: ConsoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The union of `[start, end)` intervals, in milliseconds. */
function unionMs(intervals: Array<[number, number]>): number {
  const sorted = intervals.toSorted((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of sorted) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

function summarize(spans: readonly SpanRecord[]): TraceSummary {
  const interval = (
    span: SpanRecord,
  ): [number, number] => [span.start, span.start + span.durationMs];
  const of = (test: (span: SpanRecord) => boolean) => unionMs(spans.filter(test).map(interval));
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const waits: Array<[number, number]> = spans.filter((span) => span.kind === "consumer")
    .flatMap((span) => {
      const sender = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      return sender?.kind === "producer"
        ? [[sender.start + sender.durationMs, span.start] as [number, number]]
        : [];
    });
  const start = Math.min(...spans.map((span) => span.start));
  const end = Math.max(...spans.map((span) => span.start + span.durationMs));
  return {
    durationMs: end - start,
    postgresqlMs: of((span) => span.attributes["db.system.name"] === "postgresql"),
    redisMs: of((span) => span.attributes["db.system.name"] === "redis"),
    kafka: {
      sendMs: of((span) => span.kind === "producer"),
      waitMs: unionMs(waits),
      processMs: of((span) => span.kind === "consumer"),
    },
    httpMs: of((span) => span.kind === "client" && "http.request.method" in span.attributes),
    spanCount: spans.length,
    services: [...new Set(spans.map((span) => span.service))],
    errors: spans.filter((span) => span.status === "error").length,
  };
}
