/**
 * The console's data model: what it keeps of spans, log records and metric points, whether they
 * came from the host in process or over OTLP, and the shapes of its JSON API. Times are Unix epoch
 * milliseconds (fractional, so microseconds survive); durations are milliseconds.
 *
 * @example
 * ```ts
 * import type { SpanRecord } from "./model.ts";
 * const span: SpanRecord = {
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   service: "app1",
 *   name: "POST /Message",
 *   kind: "server",
 *   start: Date.now(),
 *   durationMs: 3.2,
 *   status: "unset",
 *   attributes: { "http.route": "/Message" },
 *   events: [],
 *   links: [],
 *   resource: { "service.name": "app1" },
 * };
 * console.log(span.name);
 * ```
 * @module
 */

/** An attribute value as OTLP carries it (arrays of primitives included). */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | readonly (string | number | boolean | null)[];

/** Attributes by key. */
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** Span kinds, in the order of the API's `SpanKind` (OTLP numbers them from 1). */
export const SPAN_KINDS = ["internal", "server", "client", "producer", "consumer"] as const;
/** A span's kind, lower case as the API returns it. */
export type SpanKindName = typeof SPAN_KINDS[number];

/** Span statuses, in the order of the API's `SpanStatusCode` and of OTLP's status codes. */
export const SPAN_STATUSES = ["unset", "ok", "error"] as const;
/** A span's status: unset, ok or error. */
export type SpanStatusName = typeof SPAN_STATUSES[number];

/** A timed event on a span (an exception, say). */
export interface SpanEventRecord {
  readonly time: number;
  readonly name: string;
  readonly attributes: Attributes;
}

/** A link from a span to another span's context. */
export interface SpanLinkRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Attributes;
}

/** One finished span. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent for a root span. */
  readonly parentSpanId?: string;
  /** `service.name` of the span's resource. */
  readonly service: string;
  readonly name: string;
  readonly kind: SpanKindName;
  readonly start: number;
  readonly durationMs: number;
  readonly status: SpanStatusName;
  readonly statusMessage?: string;
  readonly attributes: Attributes;
  readonly events: readonly SpanEventRecord[];
  readonly links: readonly SpanLinkRecord[];
  readonly resource: Attributes;
  /** The instrumentation scope that made it. */
  readonly scope?: { readonly name: string; readonly version?: string };
}

/** Log severities, least severe first (OTLP's severity text, lower case). */
export const SEVERITIES = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
/** A log record's severity. */
export type Severity = typeof SEVERITIES[number];

/** One log record. */
export interface LogRecordEntry {
  readonly time: number;
  readonly service: string;
  readonly severity: Severity;
  readonly body: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly attributes: Attributes;
}

/** A metric's kind. */
export type MetricKind = "counter" | "gauge" | "histogram";

/**
 * One observation of a metric series at a time: a counter's running total, a gauge's value, or a
 * histogram's cumulative count, sum and buckets (upper bounds in the metric's unit).
 */
export interface MetricPoint {
  readonly time: number;
  readonly service: string;
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  readonly buckets?: readonly { readonly le: number; readonly count: number }[];
}

/** A row of `GET /api/traces`. */
export interface TraceListItem {
  readonly traceId: string;
  readonly rootService: string;
  readonly rootName: string;
  readonly start: number;
  readonly durationMs: number;
  readonly spanCount: number;
  /** Every service with a span in the trace, in order of first appearance. */
  readonly services: readonly string[];
  readonly error: boolean;
}

/**
 * Where a trace's time went: the answers to "how long did the flow take, and how long the
 * database, Kafka, Redis and the HTTP hops". Each figure is the union of the matching spans'
 * intervals, so overlapping calls are not counted twice.
 */
export interface TraceSummary {
  readonly durationMs: number;
  readonly postgresqlMs: number;
  readonly redisMs: number;
  readonly kafka: {
    /** PRODUCER spans: until the broker acknowledged. */
    readonly sendMs: number;
    /**
     * Time in the topic: from each send's end (the broker acknowledged it) to the start of the
     * CONSUMER span that is its child or links to it, so send, wait and process never overlap.
     */
    readonly waitMs: number;
    /** CONSUMER spans. */
    readonly processMs: number;
  };
  /** HTTP CLIENT spans: calls between functions, the callee's work included. */
  readonly httpMs: number;
  readonly spanCount: number;
  readonly services: readonly string[];
  readonly errors: number;
}

/** `GET /api/traces/:traceId`. */
export interface TraceDetail {
  readonly traceId: string;
  readonly spans: readonly SpanRecord[];
  readonly logs: readonly LogRecordEntry[];
  readonly summary: TraceSummary;
}

/** A node of the service graph: a service, a database, a cache or a Kafka topic. */
export interface GraphNode {
  readonly id: string;
  readonly type: "service" | "database" | "cache" | "topic";
}

/** An edge of the service graph: calls from `source` to `target` over the buffered spans. */
export interface GraphEdge {
  readonly source: string;
  readonly target: string;
  readonly calls: number;
  readonly errors: number;
  readonly p95Ms: number;
}

/** `GET /api/graph`. */
export interface ServiceGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/** One function's rate, errors and latency over a time window, from its invocation spans. */
export interface FunctionMetrics {
  readonly service: string;
  /** The invocation span's name: `POST /Message`, `process Purchase`, a cron function's name. */
  readonly name: string;
  readonly trigger: "http" | "kafka" | "timer";
  readonly calls: number;
  readonly errors: number;
  /** Calls per second over the window. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Per time bucket, oldest first. */
  readonly series: readonly {
    readonly time: number;
    readonly calls: number;
    readonly errors: number;
    readonly p95Ms: number;
  }[];
}

/** One Kafka-triggered function's consumption: handled, failed, dead-lettered, lag when known. */
export interface ConsumerMetrics {
  readonly service: string;
  readonly topic: string;
  readonly group: string;
  readonly processed: number;
  readonly failed: number;
  readonly deadLettered: number;
  /** Messages not yet handled, summed over partitions, when a metric reports it. */
  readonly lag?: number;
  readonly series: readonly {
    readonly time: number;
    readonly processed: number;
    readonly failed: number;
    readonly lag?: number;
  }[];
}

/** `GET /api/metrics`. */
export interface MetricsOverview {
  /** The window the figures cover, ending now. */
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly functions: readonly FunctionMetrics[];
  readonly consumers: readonly ConsumerMetrics[];
}

/** One service as the Functions page shows it. */
export interface FunctionInfo {
  readonly service: string;
  /** Run by this host (invocable from the console), or only seen over OTLP. */
  readonly source: "host" | "otlp";
  readonly url?: string;
  readonly port?: number;
  /** The last readiness answer, when the service is run by this host. */
  readonly ready?: boolean;
  readonly checks?: Readonly<Record<string, string>>;
  readonly http: readonly { readonly method: string; readonly path: string }[];
  readonly consumers: readonly {
    readonly name: string;
    readonly topic: string;
    readonly group: string;
  }[];
  readonly crons: readonly {
    readonly name: string;
    readonly schedule: string;
    readonly nextRun?: number;
  }[];
  /** When a span or log record of this service was last seen. */
  readonly lastSeen?: number;
}

/** `GET /api/functions`. */
export interface FunctionsOverview {
  readonly functions: readonly FunctionInfo[];
}

/** How full the console's buffers are and what they had to drop (oldest first) to stay bounded. */
export interface BufferStats {
  readonly traces: { readonly kept: number; readonly capacity: number; readonly dropped: number };
  readonly spans: { readonly kept: number; readonly dropped: number };
  readonly logs: { readonly kept: number; readonly capacity: number; readonly dropped: number };
  readonly metricPoints: { readonly kept: number; readonly dropped: number };
}

/** Filters of `GET /api/traces`. */
export interface TraceFilter {
  readonly service?: string;
  readonly name?: string;
  readonly error?: boolean;
  readonly minMs?: number;
  /**
   * `key:value`: some span of the trace, or one of its log records, has that attribute with that
   * value (as text).
   */
  readonly attr?: { readonly key: string; readonly value: string };
  readonly limit?: number;
}

/** Filters of `GET /api/logs`. */
export interface LogFilter {
  readonly traceId?: string;
  readonly service?: string;
  /** This severity and above. */
  readonly severity?: Severity;
  /** Text found in the body or an attribute value, case-insensitive. */
  readonly q?: string;
  readonly limit?: number;
}

/** A change the live views care about, as sent over server-sent events. */
export type ConsoleEvent =
  | { readonly type: "trace"; readonly trace: TraceListItem }
  | { readonly type: "log"; readonly log: LogRecordEntry }
  | { readonly type: "metrics" };

/**
 * What the pages read: one interface over the console's buffers, so the pages render the same data
 * the JSON API returns.
 */
export interface ConsoleReader {
  traces(filter?: TraceFilter): TraceListItem[];
  trace(traceId: string): TraceDetail | undefined;
  logs(filter?: LogFilter): LogRecordEntry[];
  graph(): ServiceGraph;
  metrics(): MetricsOverview;
  functions(): FunctionsOverview;
  stats(): BufferStats;
  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (event: ConsoleEvent) => void): () => void;
}

/**
 * `POST /api/functions/:service/invoke`: calls one of the service's HTTP functions through its
 * port, as a client would, so the call gets its own trace. `path` may carry a query string.
 */
export interface InvokeRequest {
  readonly method: string;
  readonly path: string;
  /** JSON to send as the body (`content-type: application/json`); none when absent. */
  readonly body?: unknown;
}

/** The answer of `POST /api/functions/:service/invoke` (200 whatever the function answered). */
export interface InvokeResult {
  /** The function's HTTP status. */
  readonly status: number;
  /** Its body: parsed JSON when it sent JSON, else text. */
  readonly body: unknown;
  readonly durationMs: number;
  /** The trace the call started (the id sent in its `traceparent`). */
  readonly traceId: string;
}

/**
 * The answer of `POST /api/functions/:service/crons/:name/run` (202): the run started now, outside
 * its schedule, as the root of this trace.
 */
export interface CronRunResult {
  readonly traceId: string;
}
