/**
 * An OTLP/HTTP receiver for tests and benchmarks: answers `POST /v1/traces`, `/v1/logs` and
 * `/v1/metrics` as a collector would and counts requests, bytes, spans and log records. Tests
 * keep what arrives (JSON spans and log records, flattened) for assertions; benchmarks run it as
 * its own process without keeping anything (`deno run -A testing/otlp_receiver.ts PORT`, with
 * `GET /stats` and `POST /reset`). It can stop and listen again on the same port, to play a
 * collector outage.
 *
 * @example
 * ```ts
 * import { OtlpReceiver } from "./otlp_receiver.ts";
 * const receiver = await OtlpReceiver.start();
 * console.log(receiver.endpoint); // http://127.0.0.1:PORT
 * await receiver.stop();
 * ```
 * @module
 */

/** Span kinds as OTLP numbers them. */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

/** A received span with its resource's service name and attributes as plain values. */
export interface ReceivedSpan {
  readonly service: string;
  readonly resource: Record<string, unknown>;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly status: number;
  /** Start and end, in Unix milliseconds. */
  readonly start: number;
  readonly end: number;
  readonly attributes: Record<string, unknown>;
  readonly events: ReadonlyArray<{ name: string; attributes: Record<string, unknown> }>;
  readonly links: ReadonlyArray<{ traceId: string; spanId: string }>;
  /** The instrumentation scope that produced the span. */
  readonly scope: { readonly name: string; readonly version?: string; readonly schemaUrl?: string };
}

/** A received log record. */
export interface ReceivedLog {
  readonly service: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly severityText?: string;
  readonly body: unknown;
  readonly attributes: Record<string, unknown>;
  /** Attributes the exporter reported dropped (limits), 0 when it said none. */
  readonly droppedAttributesCount: number;
}

/** What arrived since the start or the last reset. */
export interface ReceiverStats {
  requests: number;
  bytes: number;
  spans: number;
  logs: number;
  metricRequests: number;
  /** Requests whose items could not be counted (protobuf the sink could not walk). */
  uncounted: number;
}

/** Options of {@linkcode OtlpReceiver.start}. */
export interface ReceiverOptions {
  /** The port to listen on; an ephemeral one by default. */
  readonly port?: number;
  /** Whether to keep spans and log records (tests); counting only is cheaper (benchmarks). */
  readonly keep?: boolean;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

function attributeValue(value: Record<string, unknown>): unknown {
  if ("stringValue" in value) return value.stringValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return value.doubleValue;
  if ("boolValue" in value) return value.boolValue;
  if ("arrayValue" in value) {
    const values = (value.arrayValue as { values?: Record<string, unknown>[] }).values ?? [];
    return values.map(attributeValue);
  }
  return undefined;
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, attributeValue(value)]));
}

/** How often `needle` occurs in `text`: one key per item counts items without parsing. */
function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    count++;
  }
  return count;
}

const zero = (): ReceiverStats => ({
  requests: 0,
  bytes: 0,
  spans: 0,
  logs: 0,
  metricRequests: 0,
  uncounted: 0,
});

/** Collects what the host exports. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Requests answered, by path. */
  readonly requests = new Map<string, number>();
  stats: ReceiverStats = zero();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port: number;
  readonly #keep: boolean;

  private constructor(options: ReceiverOptions) {
    this.#port = options.port ?? 0;
    this.#keep = options.keep ?? true;
  }

  /** Starts a receiver. */
  static async start(options: ReceiverOptions = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(options);
    await receiver.resume();
    return receiver;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** The base URL to put in `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens again on the same port. */
  resume(): Promise<void> {
    return new Promise((resolve) => {
      this.#server = Deno.serve({
        hostname: "127.0.0.1",
        port: this.#port,
        onListen: ({ port }) => {
          this.#port = port;
          resolve();
        },
      }, (request) => this.#handle(request));
    });
  }

  /** Stops listening; exporters then fail to connect. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  /** Spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method === "GET" && path === "/stats") return Response.json(this.stats);
    if (request.method === "POST" && path === "/reset") {
      this.stats = zero();
      return new Response(null, { status: 204 });
    }
    if (request.method !== "POST" || !["/v1/traces", "/v1/logs", "/v1/metrics"].includes(path)) {
      return new Response("not found", { status: 404 });
    }
    this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
    const bytes = new Uint8Array(await request.arrayBuffer());
    this.stats.requests++;
    this.stats.bytes += bytes.length;
    if (!(request.headers.get("content-type") ?? "").includes("json")) {
      // Export requests nest items the same way in both signals: resource_spans (1) →
      // scope_spans (2) → spans (2), resource_logs (1) → scope_logs (2) → log_records (2).
      try {
        if (path === "/v1/traces") this.stats.spans += countNested(bytes, [1, 2, 2]);
        else if (path === "/v1/logs") this.stats.logs += countNested(bytes, [1, 2, 2]);
        else this.stats.metricRequests++;
      } catch {
        this.stats.uncounted++;
      }
      return new Response(new Uint8Array(), {
        headers: { "content-type": "application/x-protobuf" },
      });
    }
    const text = new TextDecoder().decode(bytes);
    // Every span has a start time, every log record an observed time.
    if (path === "/v1/traces") this.stats.spans += occurrences(text, '"startTimeUnixNano"');
    else if (path === "/v1/logs") this.stats.logs += occurrences(text, '"observedTimeUnixNano"');
    else this.stats.metricRequests++;
    if (this.#keep && path === "/v1/traces") this.#keepSpans(JSON.parse(text));
    if (this.#keep && path === "/v1/logs") this.#keepLogs(JSON.parse(text));
    return Response.json({});
  }

  // deno-lint-ignore no-explicit-any
  #keepSpans(body: any): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const resource = attributes(resourceSpans.resource?.attributes);
      const service = String(resource["service.name"]);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        const scoped = {
          name: scope.scope?.name,
          version: scope.scope?.version || undefined,
          schemaUrl: scope.schemaUrl || undefined,
        };
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            resource,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            status: span.status?.code ?? 0,
            start: Number(BigInt(span.startTimeUnixNano) / 1000n) / 1000,
            end: Number(BigInt(span.endTimeUnixNano) / 1000n) / 1000,
            attributes: attributes(span.attributes),
            events: (span.events ?? []).map((
              event: { name: string; attributes?: OtlpAttribute[] },
            ) => ({ name: event.name, attributes: attributes(event.attributes) })),
            links: (span.links ?? []).map((link: { traceId: string; spanId: string }) => ({
              traceId: link.traceId,
              spanId: link.spanId,
            })),
            scope: scoped,
          });
        }
      }
    }
  }

  // deno-lint-ignore no-explicit-any
  #keepLogs(body: any): void {
    for (const resourceLogs of body.resourceLogs ?? []) {
      const service = String(attributes(resourceLogs.resource?.attributes)["service.name"]);
      for (const scope of resourceLogs.scopeLogs ?? []) {
        for (const record of scope.logRecords ?? []) {
          this.logs.push({
            service,
            traceId: record.traceId || undefined,
            spanId: record.spanId || undefined,
            severityText: record.severityText,
            body: record.body ? attributeValue(record.body) : undefined,
            attributes: attributes(record.attributes),
            droppedAttributesCount: record.droppedAttributesCount ?? 0,
          });
        }
      }
    }
  }
}

if (import.meta.main) await OtlpReceiver.start({ port: Number(Deno.args[0]), keep: false });

/** Reads a protobuf varint at `at`; returns the value and where the next field starts. */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let shift = 0;; shift += 7) {
    if (at >= bytes.length) throw new Error("truncated varint");
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
  }
}

/**
 * Counts the messages at `path` (field numbers of nested length-delimited fields) in a protobuf
 * message, e.g. [1, 2, 2] for the spans of an OTLP trace export request.
 */
export function countNested(bytes: Uint8Array, path: readonly number[]): number {
  let count = 0;
  for (let at = 0; at < bytes.length;) {
    const [tag, afterTag] = varint(bytes, at);
    const wire = tag & 7;
    let next: number;
    if (wire === 0) next = varint(bytes, afterTag)[1];
    else if (wire === 1) next = afterTag + 8;
    else if (wire === 5) next = afterTag + 4;
    else if (wire === 2) {
      const [length, start] = varint(bytes, afterTag);
      next = start + length;
      if (tag >>> 3 === path[0]) {
        count += path.length === 1 ? 1 : countNested(bytes.subarray(start, next), path.slice(1));
      }
    } else throw new Error(`unsupported wire type ${wire}`);
    at = next;
  }
  return count;
}
