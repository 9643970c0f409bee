/**
 * OTLP/HTTP ingest, as a collector answers it: `POST /v1/traces`, `/v1/logs` and `/v1/metrics`
 * in `application/x-protobuf` or `application/json`, gzip-compressed or not. The answer is the
 * service's export response in the request's encoding, with `partialSuccess` when some items
 * were rejected; 400 for a body that does not decode, 413 above the size limit (before and after
 * gunzip), 415 for any other content type or encoding.
 *
 * @example
 * ```ts
 * import { otlpRoutes } from "./ingest.ts";
 * import { ConsoleStore } from "./store.ts";
 * const store = new ConsoleStore();
 * const app = otlpRoutes(store);
 * const response = await app.request("/v1/traces", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ resourceSpans: [] }),
 * });
 * console.log(response.status); // 200
 * ```
 * @module
 */
import { type Context, Hono } from "hono";
import type { LogRecordEntry, MetricPoint, SpanRecord } from "./model.ts";
import { type Decoded, decodeLogs, decodeMetrics, decodeTraces } from "./otlp_decode.ts";
import { otlpTypes } from "./otlp_schema.ts";

/** Where ingest puts what it decoded (the console's store). */
export interface ConsoleSink {
  addSpan(span: SpanRecord): void;
  addLog(record: LogRecordEntry): void;
  /** `delta`: the values are increments of the series' running totals (delta temporality). */
  addMetricPoints(points: Iterable<MetricPoint>, options?: { delta?: boolean }): void;
}

/** The default largest body, in bytes, compressed or not. */
export const DEFAULT_MAX_INGEST_BYTES = 16 * 1024 * 1024;

const JSON_TYPE = "application/json";
const PROTOBUF_TYPE = "application/x-protobuf";

class IngestError extends Error {
  constructor(readonly status: 400 | 413 | 415, message: string) {
    super(message);
  }
}

/** Reads at most `max` bytes of `stream`; more is a 413. */
async function readLimited(stream: ReadableStream<Uint8Array>, max: number, what: string) {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new IngestError(413, `${what} exceeds ${max} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function readBody(c: Context, max: number): Promise<{ bytes: Uint8Array; json: boolean }> {
  const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
  const json = type === JSON_TYPE;
  if (!json && type !== PROTOBUF_TYPE && type !== "application/protobuf") {
    throw new IngestError(
      415,
      `OTLP/HTTP takes ${PROTOBUF_TYPE} or ${JSON_TYPE}, not ${type ?? "a body without a type"}`,
    );
  }
  const encoding = c.req.header("content-encoding")?.trim().toLowerCase() ?? "identity";
  if (encoding !== "gzip" && encoding !== "identity" && encoding !== "") {
    throw new IngestError(415, `Content-Encoding ${encoding} is not supported (gzip is)`);
  }
  const length = Number(c.req.header("content-length"));
  if (Number.isFinite(length) && length > max) {
    throw new IngestError(413, `the request body exceeds ${max} bytes`);
  }
  const body = c.req.raw.body;
  if (body === null) return { bytes: new Uint8Array(), json };
  let bytes = await readLimited(body, max, "the request body");
  if (encoding === "gzip") {
    try {
      const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = await readLimited(inflated, max, "the uncompressed request body");
    } catch (error) {
      if (error instanceof IngestError) throw error;
      throw new IngestError(400, "the body is not valid gzip");
    }
  }
  return { bytes, json };
}

function decode(bytes: Uint8Array, json: boolean, type: typeof otlpTypes.traceRequest): unknown {
  try {
    if (json) {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return text.trim() === "" ? {} : JSON.parse(text);
    }
    return type.decode(bytes);
  } catch (error) {
    throw new IngestError(
      400,
      `the body is not ${json ? "OTLP/JSON" : "OTLP protobuf"}: ${(error as Error).message}`,
    );
  }
}

/** Answers in the request's encoding; `partialSuccess` only when something was rejected. */
function answer(
  c: Context,
  json: boolean,
  type: typeof otlpTypes.traceResponse,
  countField: string,
  rejected: number,
  error?: string,
): Response {
  const partial = rejected > 0
    ? { partialSuccess: { [countField]: rejected, errorMessage: error ?? "" } }
    : {};
  if (json) {
    const body = rejected > 0
      ? { partialSuccess: { [countField]: String(rejected), errorMessage: error ?? "" } }
      : {};
    return c.json(body, 200);
  }
  const bytes = type.encode(type.fromObject(partial)).finish();
  // A copy: protobufjs may hand back a view of a larger pooled buffer.
  return c.body(new Uint8Array(bytes).buffer, 200, { "Content-Type": PROTOBUF_TYPE });
}

/** Each signal's request and response types, and the response's count of rejected items. */
const SIGNALS = {
  traces: {
    request: otlpTypes.traceRequest,
    response: otlpTypes.traceResponse,
    rejectedField: "rejectedSpans",
  },
  logs: {
    request: otlpTypes.logsRequest,
    response: otlpTypes.logsResponse,
    rejectedField: "rejectedLogRecords",
  },
  metrics: {
    request: otlpTypes.metricsRequest,
    response: otlpTypes.metricsResponse,
    rejectedField: "rejectedDataPoints",
  },
};

/** The three ingest routes, feeding `sink`. */
export function otlpRoutes(sink: ConsoleSink, maxBytes = DEFAULT_MAX_INGEST_BYTES): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    if (error instanceof IngestError) return c.json({ error: error.message }, error.status);
    throw error;
  });
  /** A signal's route: decode, keep, answer with what was rejected. */
  const route = <T>(
    signal: keyof typeof SIGNALS,
    decodeRequest: (request: unknown) => Decoded<T>,
    keep: (items: T[]) => void,
  ) => {
    const { request: requestType, response, rejectedField } = SIGNALS[signal];
    const path = `/v1/${signal}`;
    app.post(path, async (c) => {
      const { bytes, json } = await readBody(c, maxBytes);
      const request = decode(bytes, json, requestType);
      const { items, rejected, error } = wrap(() => decodeRequest(request));
      keep(items);
      return answer(c, json, response, rejectedField, rejected, error);
    });
    app.all(path, (c) => c.json({ error: `${path} takes POST` }, 405, { Allow: "POST" }));
  };
  route("traces", decodeTraces, (spans) => spans.forEach((span) => sink.addSpan(span)));
  route("logs", decodeLogs, (logs) => logs.forEach((record) => sink.addLog(record)));
  route("metrics", decodeMetrics, (points) => {
    sink.addMetricPoints(points.filter((p) => !p.delta).map((p) => p.point));
    sink.addMetricPoints(points.filter((p) => p.delta).map((p) => p.point), { delta: true });
  });
  return app;
}

/** A decoded body of the wrong shape (a JSON array, say) is the client's error, not ours. */
function wrap<T>(decodeShape: () => T): T {
  try {
    return decodeShape();
  } catch (error) {
    throw new IngestError(
      400,
      `the body is not an OTLP export request: ${(error as Error).message}`,
    );
  }
}
