/**
 * Telemetry of one service: its own tracer provider and logger provider (so each service is a
 * node of its own in Tempo's service graph), OTLP/HTTP export through bounded batchers, its
 * metrics registry and its logger.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createServiceTelemetry, ExportStatus } from "./provider.ts";
 * const config = loadConfig({ OTEL_SDK_DISABLED: "true" });
 * const status = new ExportStatus(() => {});
 * const telemetry = createServiceTelemetry("app1", config, status);
 * telemetry.log.info("hello");
 * await telemetry.shutdown();
 * ```
 * @module
 */
import { context, isSpanContextValid, type SpanContext, type Tracer } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { type ExportResult, ExportResultCode, millisToHrTime } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Config, LogLevel } from "../config.ts";
import { withDeadline } from "../deadline.ts";
import { errorType } from "../errors.ts";
import type { Logger } from "../function.ts";
import { createLogger, type LogRecord } from "../log.ts";
import { redactUrls } from "../redact.ts";
import { BoundedBatcher } from "./batcher.ts";
import { createMetrics, type Metrics, TARGET_INFO_ATTRIBUTES } from "./metrics.ts";
import { SCOPE, serviceResource } from "./resource.ts";

/** The telemetry handles of one service. */
export interface ServiceTelemetry {
  readonly tracer: Tracer;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Exports what is queued. */
  flush(): Promise<void>;
  /** Flushes and stops the providers. */
  shutdown(): Promise<void>;
}

/** A telemetry signal sent over OTLP. */
export type Signal = "traces" | "logs";

/**
 * Tracks whether OTLP export works, shared by all services of a host, so an unreachable endpoint
 * is reported once when it starts failing and once when it recovers, not per batch.
 */
export class ExportStatus {
  readonly #failing = new Set<string>();
  constructor(
    private readonly report: (
      level: LogLevel,
      message: string,
      fields: Record<string, unknown>,
    ) => void,
  ) {}

  /** Records the outcome of one export to `endpoint`. */
  record(signal: Signal, endpoint: string, result: ExportResult): void {
    const key = `${signal} ${endpoint}`;
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.#failing.delete(key)) {
        this.report("info", "OTLP export recovered", { signal, endpoint: redactUrls(endpoint) });
      }
    } else if (!this.#failing.has(key)) {
      this.#failing.add(key);
      this.report("warn", "OTLP export failing; dropping and counting in otel_sdk_exporter_*", {
        signal,
        endpoint: redactUrls(endpoint),
        error: redactUrls(result.error?.message ?? "unknown"),
      });
    }
  }
}

let contextManagerInstalled = false;

/** Installs the AsyncLocalStorage context manager once per process (spans follow async calls). */
export function installContextManager(): void {
  if (contextManagerInstalled) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerInstalled = true;
}

/** Where a service's spans and log records go besides OTLP: the console, in process. */
export interface TelemetryCapture {
  readonly spanProcessor: SpanProcessor;
  readonly logSink: (record: LogRecord, spanContext: SpanContext | undefined, time: number) => void;
}

/** Creates the tracer, logger and metrics of `service`. */
export function createServiceTelemetry(
  service: string,
  config: Pick<Config, "telemetry" | "logLevel"> & Partial<Pick<Config, "logFormat">>,
  status: ExportStatus,
  write?: (line: string, urgent: boolean) => void,
  capture?: TelemetryCapture,
): ServiceTelemetry {
  installContextManager();
  const metrics = createMetrics();
  const settings = config.telemetry;
  // OTEL_RESOURCE_ATTRIBUTES is read by the SDK's env detector; each service keeps its own name.
  const resource = serviceResource(service);
  setTargetInfo(metrics, resource);
  if (settings.disabled) {
    return {
      tracer: new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer(service),
      log: createLogger({ service, level: config.logLevel, write, format: config.logFormat }),
      metrics,
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  /** One signal's way out: a bounded batcher exporting through `exporter` to `endpoint`. */
  const pipeline = <T>(
    signal: Signal,
    endpoint: string,
    exporter: {
      export(items: T[], done: (result: ExportResult) => void): void;
      shutdown(): Promise<void>;
    },
  ) => {
    const sdk = sdkMetrics(metrics, signal, endpoint);
    // The series exist from the start, at 0: the first failure is an increase, not a new series.
    sdk.processed.inc(sdk.processor, 0);
    sdk.exported.inc(sdk.exporter, 0);
    const maxQueueSize = settings.maxQueueSize[signal];
    const batcher = new BoundedBatcher<T>({
      maxQueueSize,
      maxBatchSize: Math.min(512, maxQueueSize),
      exportBatch: (items) => {
        sdk.processed.inc(sdk.processor, items.length);
        return new Promise((resolve) =>
          exporter.export(items, (result) => {
            status.record(signal, endpoint, result);
            const ok = result.code === ExportResultCode.SUCCESS;
            sdk.exported.inc(
              ok ? sdk.exporter : { ...sdk.exporter, error_type: exportErrorType(result.error) },
              items.length,
            );
            resolve(ok);
          })
        );
      },
      // A failed export is counted by the exporter's metric; the rest never reached it.
      onDrop: (count, reason) => {
        if (reason !== "export_failed") {
          sdk.processed.inc({ ...sdk.processor, error_type: reason }, count);
        }
      },
    });
    return {
      add: (item: T) => batcher.add(item),
      flush: () => batcher.flush(),
      shutdown: async () => {
        await batcher.shutdown();
        await withDeadline(exporter.shutdown(), 1000).catch(() => {});
      },
    };
  };
  // The URL is per host (tests run several in one process); the exporters read
  // OTEL_EXPORTER_OTLP_(TRACES_|LOGS_)HEADERS and _COMPRESSION from the environment themselves.
  const exporterOptions = (url: string) => ({ url, timeoutMillis: 5_000 });

  const spanProcessors: SpanProcessor[] = capture ? [capture.spanProcessor] : [];
  if (settings.exportTraces) {
    const spans = pipeline<ReadableSpan>(
      "traces",
      settings.tracesEndpoint,
      new OTLPTraceExporter(exporterOptions(settings.tracesEndpoint)),
    );
    spanProcessors.push({
      onStart: () => {},
      onEnd: (span) => spans.add(span),
      forceFlush: spans.flush,
      shutdown: spans.shutdown,
    });
  }
  const tracerProvider = new BasicTracerProvider({
    resource,
    // No sampler given: the SDK builds it from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
    spanProcessors,
  });

  // Log records go to the exporter as plain readable records, built once from the logger's
  // record: the SDK's LoggerProvider would copy each into a LogRecordImpl, validate every
  // attribute again and look the active context up a second time.
  const records = settings.exportLogs
    ? pipeline<ReadableLogRecord>(
      "logs",
      settings.logsEndpoint,
      new OTLPLogExporter(exporterOptions(settings.logsEndpoint)),
    )
    : undefined;
  const scope = { name: SCOPE.name, version: SCOPE.version, schemaUrl: SCOPE.schemaUrl };
  const { attributeCountLimit, attributeValueLengthLimit } = settings.logRecordLimits;
  const otlpSink = (record: LogRecord, spanContext: SpanContext | undefined, time: number) => {
    // The record's attributes within the limits, as the SDK's LogRecordImpl would keep them.
    const attributes: Record<string, string | number | boolean> = {};
    let count = 0;
    let dropped = 0;
    for (const key in record) {
      const value = record[key];
      if (BASE_FIELDS.has(key) || value === undefined || value === null) continue;
      if (count === attributeCountLimit) {
        dropped++;
        continue;
      }
      count++;
      // Primitives as they are, anything else as JSON.
      let attribute = typeof value === "string" || typeof value === "number" ||
          typeof value === "boolean"
        ? value
        : jsonOf(value);
      if (typeof attribute === "string" && attribute.length > attributeValueLengthLimit) {
        attribute = attribute.slice(0, attributeValueLengthLimit);
      }
      attributes[key] = attribute;
    }
    records!.add({
      hrTime: millisToHrTime(time),
      hrTimeObserved: millisToHrTime(Date.now()),
      spanContext: spanContext && isSpanContextValid(spanContext) ? spanContext : undefined,
      severityNumber: SEVERITY[record.level],
      severityText: record.level.toUpperCase(),
      body: record.message,
      eventName: undefined,
      resource,
      instrumentationScope: scope,
      attributes,
      droppedAttributesCount: dropped,
    });
  };
  const consoleSink = capture?.logSink;
  const sink = records
    ? consoleSink
      ? (record: LogRecord, spanContext: SpanContext | undefined, time: number) => (
        consoleSink(record, spanContext, time), otlpSink(record, spanContext, time)
      )
      : otlpSink
    : consoleSink;

  return {
    tracer: tracerProvider.getTracer(SCOPE.name, SCOPE.version, { schemaUrl: SCOPE.schemaUrl }),
    log: createLogger({
      service,
      level: config.logLevel,
      write,
      format: config.logFormat,
      sink,
    }),
    metrics,
    flush: async () => {
      await Promise.all([tracerProvider.forceFlush(), records?.flush()]);
    },
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), records?.shutdown()]);
    },
  };
}

/** The OpenTelemetry SDK self-metrics of one signal's pipeline, and their fixed labels. */
function sdkMetrics(metrics: Metrics, signal: Signal, endpoint: string) {
  const url = new URL(endpoint);
  const span = signal === "traces";
  return {
    processed: span ? metrics.sdkSpansProcessed : metrics.sdkLogsProcessed,
    exported: span ? metrics.sdkSpansExported : metrics.sdkLogsExported,
    // One batching processor and one exporter of each signal per service's SDK instance.
    processor: {
      otel_component_type: span ? "batching_span_processor" : "batching_log_processor",
      otel_component_name: span ? "batching_span_processor/0" : "batching_log_processor/0",
    },
    exporter: {
      otel_component_type: span ? "otlp_http_json_span_exporter" : "otlp_http_json_log_exporter",
      otel_component_name: span
        ? "otlp_http_json_span_exporter/0"
        : "otlp_http_json_log_exporter/0",
      server_address: url.hostname,
      server_port: String(Number(url.port) || (url.protocol === "https:" ? 443 : 80)),
    },
  };
}

/** A failed export's `error.type`: the HTTP status the collector answered, or the error's type. */
function exportErrorType(error: Error | undefined): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "number" && code >= 100 && code < 600) return String(code);
  return error ? errorType(error) : "_OTHER";
}

/** Fills `target_info` with the resource attributes it lists. */
function setTargetInfo(metrics: Metrics, resource: Resource): void {
  const labels: Record<string, string> = {};
  for (const name of TARGET_INFO_ATTRIBUTES) {
    const value = resource.attributes[name];
    if (value !== undefined && value !== null) labels[name.replaceAll(".", "_")] = String(value);
  }
  metrics.targetInfo.set(labels, 1);
}

const SEVERITY: Record<LogLevel, SeverityNumber> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};

const BASE_FIELDS = new Set(["time", "level", "service", "message", "trace_id", "span_id"]);

/**
 * A log field that is not a primitive attribute, as JSON (BigInts as their digits, as the
 * stdout line writes them); what JSON cannot hold at all (a cycle, a function) as `String`.
 */
function jsonOf(value: unknown): string {
  if (typeof value === "bigint") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // a nested BigInt or a cycle
  }
  try {
    return JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v) ?? String(value);
  } catch {
    return String(value);
  }
}
