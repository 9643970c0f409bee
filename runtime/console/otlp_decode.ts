/**
 * OTLP export requests into the console's records. One walker serves both encodings: protobuf
 * (decoded by protobufjs with {@linkcode otlpTypes}) and OTLP/JSON, whose quirks it accepts in
 * the forms real exporters send them: trace and span ids as hex (the OTLP/JSON rule) or base64
 * (the generic protobuf-JSON mapping some exporters use); 64-bit integers as strings, numbers or
 * protobufjs Longs; enums as numbers or names (`SPAN_KIND_SERVER`).
 *
 * @example
 * ```ts
 * import { decodeTraces } from "./otlp_decode.ts";
 * const { items, rejected } = decodeTraces({ resourceSpans: [] });
 * console.log(items.length, rejected); // 0 0
 * ```
 * @module
 */
import { decodeBase64, encodeHex } from "./_codec.ts";
import {
  type Attributes,
  type AttributeValue,
  type LogRecordEntry,
  type MetricPoint,
  type Severity,
  SPAN_KINDS,
  SPAN_STATUSES,
  type SpanKindName,
  type SpanRecord,
  type SpanStatusName,
} from "./model.ts";

// deno-lint-ignore no-explicit-any
type Message = any;

const hasOwn = (value: object, key: string) => Object.prototype.hasOwnProperty.call(value, key);

/** A 64-bit integer as it arrives: number, decimal string, or a protobufjs Long. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") return value === "" ? 0 : Number(value);
  if (typeof value === "bigint") return Number(value);
  if (value && typeof value === "object" && "low" in value && "high" in value) {
    const { low, high, unsigned } = value as { low: number; high: number; unsigned?: boolean };
    return (unsigned ? high >>> 0 : high) * 4294967296 + (low >>> 0);
  }
  return 0;
}

/** A 64-bit integer, exactly. */
function toBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "string") return /^\d+$/.test(value) ? BigInt(value) : 0n;
  if (typeof value === "number") return Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
  if (value && typeof value === "object" && "low" in value && "high" in value) {
    const { low, high } = value as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

/** The milliseconds between two nanosecond timestamps, exact to the nanosecond. */
export function nanosBetweenMs(start: unknown, end: unknown): number {
  return Number(toBigInt(end) - toBigInt(start)) / 1e6;
}

/** Nanoseconds since the epoch (any 64-bit form) as fractional epoch milliseconds. */
export function nanosToMs(value: unknown): number {
  if (typeof value === "string" && value.length > 15) {
    // Split the string so microseconds survive the conversion to a double.
    return Number(value.slice(0, -6)) + Number(value.slice(-6)) / 1e6;
  }
  return toNumber(value) / 1e6;
}

/** An id as lower-case hex: from bytes, hex text, or base64 text; undefined when empty. */
export function toHexId(value: unknown, bytes: 8 | 16): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  // protobufjs leaves an absent bytes field as its prototype default, an empty array.
  if (Array.isArray(value)) value = Uint8Array.from(value);
  if (value instanceof Uint8Array) {
    if (value.length === 0) return undefined;
    return value.length === bytes ? encodeHex(value) : null;
  }
  if (typeof value !== "string") return null;
  if (value === "") return undefined;
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) {
    return /^0+$/.test(value) ? null : value.toLowerCase();
  }
  try {
    const decoded = decodeBase64(value);
    return decoded.length === bytes ? encodeHex(decoded) : null;
  } catch {
    return null;
  }
}

/** `value` if it is one of `names`, else `fallback`. */
const oneOf = <T extends string>(names: readonly T[], value: unknown, fallback: T): T =>
  names.includes(value as T) ? value as T : fallback;

/** OTLP's kind, by number (from 1; 0 is unspecified) or name (`SPAN_KIND_SERVER`). */
function spanKind(value: unknown): SpanKindName {
  const name = typeof value === "string"
    ? value.replace(/^SPAN_KIND_/, "").toLowerCase()
    : SPAN_KINDS[toNumber(value) - 1];
  return oneOf(SPAN_KINDS, name, "internal");
}

/** OTLP's status code, by number or name (`STATUS_CODE_ERROR`). */
function statusCode(value: unknown): SpanStatusName {
  const name = typeof value === "string"
    ? value.replace(/^STATUS_CODE_/, "").toLowerCase()
    : SPAN_STATUSES[toNumber(value)];
  return oneOf(SPAN_STATUSES, name, "unset");
}

/** An AnyValue as a plain value: arrays of primitives stay arrays, anything deeper is JSON. */
export function anyValue(value: Message): AttributeValue {
  const plain = plainValue(value);
  if (Array.isArray(plain)) {
    return plain.every((item) => item === null || typeof item !== "object")
      ? plain as AttributeValue
      : JSON.stringify(plain);
  }
  return plain !== null && typeof plain === "object"
    ? JSON.stringify(plain)
    : plain as AttributeValue;
}

function plainValue(value: Message): unknown {
  if (value === undefined || value === null || typeof value !== "object") return null;
  if (hasOwn(value, "stringValue")) return String(value.stringValue);
  if (hasOwn(value, "boolValue")) return Boolean(value.boolValue);
  if (hasOwn(value, "intValue")) return toNumber(value.intValue);
  if (hasOwn(value, "doubleValue")) return Number(value.doubleValue);
  if (hasOwn(value, "arrayValue")) {
    return ((value.arrayValue?.values ?? []) as Message[]).map(plainValue);
  }
  if (hasOwn(value, "kvlistValue")) {
    return Object.fromEntries(
      ((value.kvlistValue?.values ?? []) as Message[]).map((kv) => [kv.key, plainValue(kv.value)]),
    );
  }
  if (hasOwn(value, "bytesValue")) {
    const bytes = value.bytesValue;
    return bytes instanceof Uint8Array ? encodeHex(bytes) : String(bytes);
  }
  return null;
}

/** A KeyValue list as attributes. */
export function attributes(list: Message): Attributes {
  const result: Record<string, AttributeValue> = {};
  if (!Array.isArray(list)) return result;
  for (const kv of list) {
    if (kv && typeof kv.key === "string") result[kv.key] = anyValue(kv.value);
  }
  return result;
}

function list(value: Message): Message[] {
  return Array.isArray(value) ? value : [];
}

function serviceOf(resource: Attributes): string {
  const name = resource["service.name"];
  return typeof name === "string" && name !== "" ? name : "unknown_service";
}

/** What a request decoded to: its items, and how many were rejected (with the first reason). */
export interface Decoded<T> {
  readonly items: T[];
  readonly rejected: number;
  readonly error?: string;
}

/** Each signal's request: its resource, scope and item lists. */
const LEVELS = {
  traces: ["resourceSpans", "scopeSpans", "spans"],
  logs: ["resourceLogs", "scopeLogs", "logRecords"],
  metrics: ["resourceMetrics", "scopeMetrics", "metrics"],
} as const;

/** Where an item was found: its resource (and service) and its instrumentation scope. */
interface Origin {
  readonly resource: Attributes;
  readonly service: string;
  readonly scope: Message;
}

/**
 * Walks a request's resources, scopes and items; `decode` makes each item a record, or says why
 * it is rejected.
 */
function walk<T>(
  request: Message,
  signal: keyof typeof LEVELS,
  decode: (item: Message, origin: Origin) => T | string,
): Decoded<T> {
  if (!request || typeof request !== "object" || Array.isArray(request)) {
    throw new TypeError(`not an OTLP ${signal} request`);
  }
  const [resources, scopes, itemsKey] = LEVELS[signal];
  const items: T[] = [];
  let rejected = 0;
  let error: string | undefined;
  for (const group of list(request[resources])) {
    const resource = attributes(group?.resource?.attributes);
    const service = serviceOf(resource);
    for (const scoped of list(group?.[scopes])) {
      const origin = { resource, service, scope: scoped?.scope };
      for (const item of list(scoped?.[itemsKey])) {
        const decoded = decode(item, origin);
        if (typeof decoded !== "string") items.push(decoded);
        else {
          rejected++;
          error ??= decoded;
        }
      }
    }
  }
  return { items, rejected, error };
}

/** An ExportTraceServiceRequest (decoded protobuf or parsed JSON) as span records. */
export function decodeTraces(request: Message): Decoded<SpanRecord> {
  return walk(request, "traces", (span, { resource, service, scope }) => {
    const traceId = toHexId(span?.traceId, 16);
    const spanId = toHexId(span?.spanId, 8);
    const parentSpanId = toHexId(span?.parentSpanId, 8);
    if (!traceId || !spanId || parentSpanId === null) {
      return "spans need a 16-byte traceId and an 8-byte spanId (hex or base64)";
    }
    const message = span.status?.message;
    return {
      traceId,
      spanId,
      ...(parentSpanId ? { parentSpanId } : {}),
      service,
      name: String(span.name ?? ""),
      kind: spanKind(span.kind),
      start: nanosToMs(span.startTimeUnixNano),
      durationMs: Math.max(0, nanosBetweenMs(span.startTimeUnixNano, span.endTimeUnixNano)),
      status: statusCode(span.status?.code),
      ...(message ? { statusMessage: String(message) } : {}),
      attributes: attributes(span.attributes),
      events: list(span.events).map((event) => ({
        time: nanosToMs(event?.timeUnixNano),
        name: String(event?.name ?? ""),
        attributes: attributes(event?.attributes),
      })),
      links: list(span.links).flatMap((link) => {
        const linkTrace = toHexId(link?.traceId, 16);
        const linkSpan = toHexId(link?.spanId, 8);
        return linkTrace && linkSpan
          ? [{ traceId: linkTrace, spanId: linkSpan, attributes: attributes(link.attributes) }]
          : [];
      }),
      resource,
      ...(scope?.name
        ? {
          scope: {
            name: String(scope.name),
            ...(scope.version ? { version: String(scope.version) } : {}),
          },
        }
        : {}),
    };
  });
}

/** OTLP severity numbers 1-24, four per level. */
const BY_NUMBER: readonly Severity[] = ["trace", "debug", "info", "warn", "error", "fatal"];
const TEXT: Record<string, Severity> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  information: "info",
  notice: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  err: "error",
  critical: "fatal",
  fatal: "fatal",
};

function severity(number: unknown, text: unknown): Severity {
  const n = typeof number === "string"
    ? BY_NUMBER.findIndex((name) => number.toLowerCase().includes(name)) * 4 + 1
    : toNumber(number);
  if (n >= 1 && n <= 24) return BY_NUMBER[Math.floor((n - 1) / 4)];
  if (typeof text === "string") {
    return TEXT[text.toLowerCase().replace(/[^a-z].*$/, "")] ?? "info";
  }
  return "info";
}

/** An ExportLogsServiceRequest as log records. */
export function decodeLogs(request: Message): Decoded<LogRecordEntry> {
  return walk(request, "logs", (record, { service }) => {
    const traceId = toHexId(record?.traceId, 16);
    const spanId = toHexId(record?.spanId, 8);
    if (traceId === null || spanId === null) {
      return "log records' traceId must be 16 bytes and spanId 8 bytes (hex or base64)";
    }
    const time = nanosToMs(record.timeUnixNano) || nanosToMs(record.observedTimeUnixNano);
    const body = record.body === undefined || record.body === null ? "" : anyValue(record.body);
    return {
      time: time || Date.now(),
      service,
      severity: severity(record.severityNumber, record.severityText),
      body: typeof body === "string"
        ? body
        : body === null
        ? (record.eventName ? String(record.eventName) : "")
        : JSON.stringify(body),
      ...(traceId ? { traceId } : {}),
      ...(spanId ? { spanId } : {}),
      attributes: attributes(record.attributes),
    };
  });
}

function labels(list: Message): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes(list))) {
    result[key] = Array.isArray(value) ? value.join(",") : String(value);
  }
  return result;
}

/** A metric point, and whether its value is a delta to add to the series' running total. */
export interface DecodedPoint {
  readonly point: MetricPoint;
  readonly delta: boolean;
}

/** OTLP's AGGREGATION_TEMPORALITY_DELTA. */
const DELTA = 1;

function temporality(value: unknown): number {
  if (typeof value === "string") return value.endsWith("DELTA") ? DELTA : 2;
  return toNumber(value);
}

/**
 * An ExportMetricsServiceRequest as metric points; a metric without a name is rejected whole.
 * Exponential histograms and summaries keep their count and sum, not their buckets.
 */
export function decodeMetrics(request: Message): Decoded<DecodedPoint> {
  const { items, ...counts } = walk(
    request,
    "metrics",
    (metric, { service }): DecodedPoint[] | string => {
      const name = String(metric?.name ?? "");
      if (name === "") return "metrics need a name";
      const unit = metric.unit ? String(metric.unit) : undefined;
      const base = { service, name, ...(unit ? { unit } : {}) };
      const data = metric.gauge ?? metric.sum ?? metric.histogram ?? metric.exponentialHistogram ??
        metric.summary;
      if (!data) return [];
      const delta = data !== metric.gauge && temporality(data.aggregationTemporality) === DELTA;
      if (data === metric.gauge || data === metric.sum) {
        const kind = data === metric.sum && data.isMonotonic ? "counter" : "gauge";
        return list(data.dataPoints).map((p) => ({ point: numberPoint(base, kind, p), delta }));
      }
      const buckets = data === metric.histogram;
      return list(data.dataPoints).map((p) => ({ point: histogramPoint(base, p, buckets), delta }));
    },
  );
  return { items: items.flat(), ...counts };
}

type PointBase = { service: string; name: string; unit?: string };

function numberPoint(
  base: PointBase,
  kind: MetricPoint["kind"],
  p: Message,
): MetricPoint {
  const value = p && hasOwn(p, "asInt") ? toNumber(p.asInt) : Number(p?.asDouble ?? 0);
  return { ...base, time: nanosToMs(p?.timeUnixNano), kind, labels: labels(p?.attributes), value };
}

/** A histogram point; the buckets (cumulative, as the console keeps them) of explicit ones only. */
function histogramPoint(base: PointBase, p: Message, withBuckets: boolean): MetricPoint {
  const point = {
    ...base,
    time: nanosToMs(p.timeUnixNano),
    kind: "histogram" as const,
    labels: labels(p.attributes),
    count: toNumber(p.count),
    sum: Number(p.sum ?? 0),
  };
  if (!withBuckets) return point;
  const counts = list(p.bucketCounts).map(toNumber);
  let cumulative = 0;
  const buckets = list(p.explicitBounds).map((le, i) => ({
    le: Number(le),
    count: cumulative += counts[i] ?? 0,
  }));
  return { ...point, buckets };
}
