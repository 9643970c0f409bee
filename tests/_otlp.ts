/**
 * An OTLP/HTTP receiver for tests: accepts JSON `POST /v1/traces` and `/v1/logs` (what the
 * host's exporters send) and keeps the spans and log records, flattened, for assertions.
 * It can be stopped and started again on the same port to play a collector outage.
 *
 * @example
 * ```ts
 * import { OtlpReceiver } from "./_otlp.ts";
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
}

/** A received log record. */
export interface ReceivedLog {
  readonly service: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly severityText?: string;
  readonly body: unknown;
  readonly attributes: Record<string, unknown>;
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

/** Collects what the host exports. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Requests answered, by path. */
  readonly requests = new Map<string, number>();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port: number;

  private constructor(port: number) {
    this.#port = port;
  }

  /** Starts a receiver on `port` (an ephemeral one by default). */
  static async start(port = 0): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(port);
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
    this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
    const body = await request.json();
    if (path === "/v1/traces") {
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributes(resourceSpans.resource?.attributes);
        const service = String(resource["service.name"]);
        for (const scope of resourceSpans.scopeSpans ?? []) {
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
              ) => ({
                name: event.name,
                attributes: attributes(event.attributes),
              })),
            });
          }
        }
      }
    } else if (path === "/v1/logs") {
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
            });
          }
        }
      }
    } else {
      return new Response("not found", { status: 404 });
    }
    return Response.json({});
  }
}
