/**
 * The host's own telemetry into the console, in process: a SpanProcessor that turns each ended
 * span into a compact {@linkcode SpanRecord} (the span's attribute object is shared, not copied;
 * no OTLP encoding, no JSON), a logger sink, and a sampler of the services' Prometheus
 * registries for the consumer figures.
 *
 * @example
 * ```ts
 * import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
 * import { ConsoleStore } from "./store.ts";
 * import { consoleSpanProcessor } from "./capture.ts";
 * const store = new ConsoleStore();
 * const provider = new BasicTracerProvider({ spanProcessors: [consoleSpanProcessor(store)] });
 * provider.getTracer("demo").startSpan("work").end();
 * console.log(store.traces().length); // 1
 * ```
 * @module
 */
import type { HrTime } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Registry } from "prom-client";
import type { LogRecord } from "../log.ts";
import type { ConsoleSink } from "./ingest.ts";
import type { ConsoleStore } from "./store.ts";
import type {
  Attributes,
  AttributeValue,
  LogRecordEntry,
  MetricPoint,
  Severity,
  SpanKindName,
  SpanRecord,
  SpanStatusName,
} from "./model.ts";

/** `SpanKind` and `SpanStatusCode` of @opentelemetry/api, by number. */
const KINDS: readonly SpanKindName[] = ["internal", "server", "client", "producer", "consumer"];
const STATUSES: readonly SpanStatusName[] = ["unset", "ok", "error"];
const NONE: readonly never[] = [];

const toMs = (time: HrTime) => time[0] * 1000 + time[1] / 1e6;

const resources = new WeakMap<Resource, { service: string; attributes: Attributes }>();

function resourceOf(resource: Resource) {
  let cached = resources.get(resource);
  if (!cached) {
    const attributes = resource.attributes as Attributes;
    const name = attributes["service.name"];
    cached = { service: typeof name === "string" ? name : "unknown_service", attributes };
    resources.set(resource, cached);
  }
  return cached;
}

/** A span the SDK ended, as the console keeps it. */
export function spanRecord(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  const { service, attributes: resource } = resourceOf(span.resource);
  const parent = span.parentSpanContext?.spanId;
  const status = span.status;
  // Every field always present (undefined when absent; JSON leaves those out): one object shape
  // for all records keeps them small and their reads fast.
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: parent || undefined,
    service,
    name: span.name,
    kind: KINDS[span.kind] ?? "internal",
    start: toMs(span.startTime),
    durationMs: toMs(span.duration),
    status: STATUSES[status.code] ?? "unset",
    statusMessage: status.message || undefined,
    // The SDK never changes an ended span's attributes: the record shares the object.
    attributes: span.attributes as Attributes,
    events: span.events.length === 0 ? NONE : span.events.map((event) => ({
      time: toMs(event.time),
      name: event.name,
      attributes: (event.attributes ?? {}) as Attributes,
    })),
    links: span.links.length === 0 ? NONE : span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      attributes: (link.attributes ?? {}) as Attributes,
    })),
    resource,
    scope: span.instrumentationScope,
  };
}

/** A SpanProcessor that hands every ended span to the console's store. */
export function consoleSpanProcessor(sink: Pick<ConsoleSink, "addSpan">): SpanProcessor {
  return {
    onStart: () => {},
    onEnd: (span) => sink.addSpan(spanRecord(span)),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

const BASE_FIELDS = new Set(["time", "level", "service", "message", "trace_id", "span_id"]);

/**
 * A logger record as a console log record: objects among the fields become JSON text. `time` is
 * the record's time in epoch milliseconds when the caller has it (the logger does).
 */
export function logEntry(
  record: LogRecord,
  time: number = Date.parse(record.time),
): LogRecordEntry {
  const attributes: Record<string, AttributeValue> = {};
  for (const key in record) {
    if (BASE_FIELDS.has(key)) continue;
    const value = record[key];
    if (value === undefined) continue;
    attributes[key] = value === null || typeof value === "string" || typeof value === "number" ||
        typeof value === "boolean"
      ? value
      : safeJson(value);
  }
  return {
    time,
    service: record.service,
    severity: record.level as Severity,
    body: record.message,
    ...(record.trace_id ? { traceId: record.trace_id } : {}),
    ...(record.span_id ? { spanId: record.span_id } : {}),
    attributes,
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v) ?? String(value);
  } catch {
    return `[unserializable ${typeof value}]`;
  }
}

/**
 * A logger sink that hands every record to the console's store as it is (the store converts it
 * when it is read); `time` is the record's time in epoch milliseconds, parsed from it if absent.
 */
export function consoleLogSink(
  sink: Pick<ConsoleStore, "addLoggerRecord">,
): (record: LogRecord, spanContext?: unknown, time?: number) => void {
  return (record, _spanContext, time) =>
    sink.addLoggerRecord(record, time ?? Date.parse(record.time));
}

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

function stringLabels(labels: Record<string, string | number>, without?: string) {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key !== without) result[key] = String(value);
  }
  return result;
}

/** One sample of a prom-client registry as metric points (counters, gauges, histograms). */
export async function samplePoints(
  service: string,
  registry: Registry,
  time = Date.now(),
): Promise<MetricPoint[]> {
  const points: MetricPoint[] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    const values = metric.values as PromValue[];
    const type = String(metric.type);
    if (type === "counter" || type === "gauge") {
      for (const v of values) {
        points.push({
          time,
          service,
          name: metric.name,
          kind: type,
          labels: stringLabels(v.labels),
          value: v.value,
        });
      }
    } else if (type === "histogram") {
      const series = new Map<string, { labels: Record<string, string>; point: MetricPoint }>();
      for (const v of values) {
        const labels = stringLabels(v.labels, "le");
        const key = JSON.stringify(labels);
        let entry = series.get(key);
        if (!entry) {
          entry = {
            labels,
            point: { time, service, name: metric.name, kind: "histogram", labels, buckets: [] },
          };
          series.set(key, entry);
        }
        const point = entry.point as { -readonly [K in keyof MetricPoint]: MetricPoint[K] };
        if (v.metricName?.endsWith("_bucket")) {
          const le = Number(v.labels.le);
          if (Number.isFinite(le)) {
            (point.buckets as { le: number; count: number }[]).push({ le, count: v.value });
          }
        } else if (v.metricName?.endsWith("_sum")) {
          point.sum = v.value;
        } else if (v.metricName?.endsWith("_count")) {
          point.count = v.value;
        }
      }
      for (const { point } of series.values()) points.push(point);
    }
  }
  return points;
}

/** Samples the registries every `intervalMs` into `sink` until stopped. */
export function sampleRegistries(
  sink: Pick<ConsoleSink, "addMetricPoints">,
  registries: ReadonlyArray<{ service: string; registry: Registry }>,
  intervalMs = 5_000,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const sample = () => {
    running ??= (async () => {
      const time = Date.now();
      for (const { service, registry } of registries) {
        try {
          sink.addMetricPoints(await samplePoints(service, registry, time));
        } catch {
          // A collect() that throws loses one sample of one service, nothing else.
        }
      }
    })().finally(() => running = undefined);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  Deno.unrefTimer(timer);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
