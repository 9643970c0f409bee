/**
 * The host's metrics, named by the OpenTelemetry semantic conventions (v1.44.0) as the
 * OTel→Prometheus mapping spells them: dots become underscores, the unit becomes a suffix
 * (`s` → `_seconds`, `By` → `_bytes`; `{message}`-style annotations are dropped), counters end
 * in `_total`, and attributes become labels of the same name (`http.route` → `http_route`).
 *
 * Each service has its own registry, holding only what it records (a family appears once its
 * service records it, or when its series are known up front and start at 0). Process and
 * runtime metrics describe the host process, not a service: they live in one process-wide
 * registry that exactly one service's `/metrics` serves (see {@linkcode processMetrics}).
 * Histograms keep a trace exemplar per bucket, shown when scraped as OpenMetrics.
 *
 * @example
 * ```ts
 * import { createMetrics, observe } from "./metrics.ts";
 * const metrics = createMetrics();
 * observe(metrics.dbOperationDuration, {
 *   db_system_name: "postgresql",
 *   db_operation_name: "INSERT",
 * }, 0.004);
 * ```
 * @module
 */
import type { Span } from "@opentelemetry/api";
import { TraceFlags } from "@opentelemetry/api";
import process from "node:process";
import v8 from "node:v8";
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from "prom-client";

/** Bucket boundaries (seconds) the conventions advise for each duration histogram. */
export const BUCKETS = {
  /** `http.server.request.duration`, `http.client.request.duration`, messaging and FaaS. */
  default: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  /** `db.client.operation.duration`. */
  db: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  /** Messages per produce request (not a duration). */
  batch: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
} as const;

type HttpServerLabel =
  | "http_request_method"
  | "url_scheme"
  | "http_route"
  | "http_response_status_code"
  | "network_protocol_version"
  | "error_type";
type HttpClientLabel =
  | "http_request_method"
  | "server_address"
  | "server_port"
  | "http_response_status_code"
  | "network_protocol_version"
  | "error_type";
type MessagingLabel =
  | "messaging_system"
  | "messaging_destination_name"
  | "messaging_destination_partition_id"
  | "messaging_operation_name"
  | "server_address"
  | "server_port"
  | "error_type";
type MessagingConsumerLabel = MessagingLabel | "messaging_consumer_group_name";
type ConsumerGroupLabel =
  | "messaging_system"
  | "messaging_destination_name"
  | "messaging_consumer_group_name";
type DbLabel =
  | "db_system_name"
  | "db_operation_name"
  | "db_collection_name"
  | "db_namespace"
  | "db_query_summary"
  | "db_response_status_code"
  | "server_address"
  | "server_port"
  | "error_type";
type FaasLabel = "faas_trigger" | "faas_name";
type SdkProcessorLabel = "otel_component_type" | "otel_component_name" | "error_type";
type SdkExporterLabel = SdkProcessorLabel | "server_address" | "server_port";

/** The metrics of one service. */
export interface Metrics {
  readonly registry: Registry;
  /** `http.server.request.duration`: each request to a function, as its SERVER span. */
  readonly httpServerDuration: Histogram<HttpServerLabel>;
  /** `http.client.request.duration`: each request made through the traced fetch. */
  readonly httpClientDuration: Histogram<HttpClientLabel>;
  /** `messaging.client.sent.messages`: messages the producer tried to send. */
  readonly messagingSent: Counter<MessagingLabel | "messaging_operation_name">;
  /** `messaging.client.operation.duration`: each send, until the broker acknowledged it. */
  readonly messagingOperationDuration: Histogram<MessagingLabel | "messaging_operation_type">;
  /** Not in the conventions: how many messages went out in the produce request of each sent one. */
  readonly messagingBatchSize: Histogram<"messaging_system" | "messaging_destination_name">;
  /** Not in the conventions: how long a sent message waited for its batch to leave. */
  readonly messagingLinger: Histogram<"messaging_system" | "messaging_destination_name">;
  /** `messaging.client.consumed.messages`: messages delivered to a Kafka-triggered function. */
  readonly messagingConsumed: Counter<MessagingConsumerLabel>;
  /** `messaging.process.duration`: handling one message, retries included. */
  readonly messagingProcessDuration: Histogram<MessagingConsumerLabel>;
  /** Not in the conventions: handler attempts that failed and were retried. */
  readonly messagingRetries: Counter<ConsumerGroupLabel>;
  /** Not in the conventions: messages given up on and sent to `<topic>.DLQ`. */
  readonly messagingDeadLettered: Counter<ConsumerGroupLabel>;
  /** Not in the conventions: messages of a partition the group has not handled yet. */
  readonly messagingConsumerLag: Gauge<ConsumerGroupLabel | "messaging_destination_partition_id">;
  /** `db.client.operation.duration`: PostgreSQL queries and Redis commands. */
  readonly dbOperationDuration: Histogram<DbLabel>;
  /** `faas.invoke_duration`: each run of a cron function. */
  readonly faasInvokeDuration: Histogram<FaasLabel>;
  /** `faas.invocations`: successful runs. */
  readonly faasInvocations: Counter<FaasLabel>;
  /** `faas.errors`: failed runs. */
  readonly faasErrors: Counter<FaasLabel>;
  /** `faas.coldstarts`: first runs of a function in this process. */
  readonly faasColdstarts: Counter<FaasLabel>;
  /** Not in the conventions: 1 when the last check of a dependency succeeded. */
  readonly dependencyUp: Gauge<"dependency">;
  /** `otel.sdk.processor.span.processed`: spans handed to the exporter, or dropped. */
  readonly sdkSpansProcessed: Counter<SdkProcessorLabel>;
  /** `otel.sdk.processor.log.processed`: log records handed to the exporter, or dropped. */
  readonly sdkLogsProcessed: Counter<SdkProcessorLabel>;
  /** `otel.sdk.exporter.span.exported`: spans whose export finished, failed ones with `error_type`. */
  readonly sdkSpansExported: Counter<SdkExporterLabel>;
  /** `otel.sdk.exporter.log.exported`: log records whose export finished. */
  readonly sdkLogsExported: Counter<SdkExporterLabel>;
  /** `target_info`: the service's resource attributes, as the OTel→Prometheus mapping has it. */
  readonly targetInfo: Gauge<string>;
}

/** Creates the (empty) metrics of one service on a registry of its own. */
export function createMetrics(): Metrics {
  // prom-client keeps exemplars only on a registry typed OpenMetrics; its own text output is not
  // used (exposition.ts writes both formats), so the type changes nothing else.
  const registry: Registry = new Registry();
  (registry as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [registry];
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[] = BUCKETS.default,
  ) =>
    new Histogram<L>({
      name,
      help,
      labelNames,
      buckets: [...buckets],
      enableExemplars: true,
      registers,
    });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const messaging = [
    "messaging_system",
    "messaging_destination_name",
    "messaging_destination_partition_id",
    "messaging_operation_name",
    "server_address",
    "server_port",
    "error_type",
  ] as const;
  const group = [
    "messaging_system",
    "messaging_destination_name",
    "messaging_consumer_group_name",
  ] as const;
  const faas = ["faas_trigger", "faas_name"] as const;
  const processor = ["otel_component_type", "otel_component_name", "error_type"] as const;
  const exporter = [...processor, "server_address", "server_port"] as const;
  return {
    registry,
    httpServerDuration: histogram(
      "http_server_request_duration_seconds",
      "Duration of HTTP server requests.",
      [
        "http_request_method",
        "url_scheme",
        "http_route",
        "http_response_status_code",
        "network_protocol_version",
        "error_type",
      ],
    ),
    httpClientDuration: histogram(
      "http_client_request_duration_seconds",
      "Duration of HTTP client requests.",
      [
        "http_request_method",
        "server_address",
        "server_port",
        "http_response_status_code",
        "network_protocol_version",
        "error_type",
      ],
    ),
    messagingSent: counter(
      "messaging_client_sent_messages_total",
      "Number of messages producer attempted to send to the broker.",
      messaging,
    ),
    messagingOperationDuration: histogram(
      "messaging_client_operation_duration_seconds",
      "Duration of messaging operation initiated by a producer or consumer client.",
      [...messaging, "messaging_operation_type"],
    ),
    messagingBatchSize: histogram(
      "messaging_kafka_producer_batch_message_count",
      "Messages in the produce request each sent message went out in, one sample per message " +
        "(not in the semantic conventions).",
      ["messaging_system", "messaging_destination_name"],
      BUCKETS.batch,
    ),
    messagingLinger: histogram(
      "messaging_kafka_producer_linger_duration_seconds",
      "Time a sent message waited for its batch to leave: linger, or requests in flight " +
        "(not in the semantic conventions).",
      ["messaging_system", "messaging_destination_name"],
    ),
    messagingConsumed: counter(
      "messaging_client_consumed_messages_total",
      "Number of messages that were delivered to the application.",
      [...messaging, "messaging_consumer_group_name"],
    ),
    messagingProcessDuration: histogram(
      "messaging_process_duration_seconds",
      "Duration of processing operation.",
      [...messaging, "messaging_consumer_group_name"],
    ),
    messagingRetries: counter(
      "messaging_process_retries_total",
      "Handler attempts that failed and were retried (not in the semantic conventions).",
      group,
    ),
    messagingDeadLettered: counter(
      "messaging_client_dead_lettered_messages_total",
      "Messages given up on and sent to the dead-letter topic <topic>.DLQ " +
        "(not in the semantic conventions).",
      group,
    ),
    messagingConsumerLag: new Gauge({
      name: "messaging_kafka_consumer_lag",
      help: "Messages in the partition the consumer group has not handled yet: high watermark " +
        "minus the next offset (not in the semantic conventions).",
      labelNames: [...group, "messaging_destination_partition_id"],
      registers,
    }),
    dbOperationDuration: histogram(
      "db_client_operation_duration_seconds",
      "Duration of database client operations.",
      [
        "db_system_name",
        "db_operation_name",
        "db_collection_name",
        "db_namespace",
        "db_query_summary",
        "db_response_status_code",
        "server_address",
        "server_port",
        "error_type",
      ],
      BUCKETS.db,
    ),
    faasInvokeDuration: histogram(
      "faas_invoke_duration_seconds",
      "Measures the duration of the function's logic execution.",
      faas,
    ),
    faasInvocations: counter("faas_invocations_total", "Number of successful invocations.", faas),
    faasErrors: counter("faas_errors_total", "Number of invocation errors.", faas),
    faasColdstarts: counter("faas_coldstarts_total", "Number of invocation cold starts.", faas),
    dependencyUp: new Gauge({
      name: "dependency_up",
      help: "1 when the last check of a dependency succeeded, 0 when it failed " +
        "(not in the semantic conventions).",
      labelNames: ["dependency"],
      registers,
    }),
    sdkSpansProcessed: counter(
      "otel_sdk_processor_span_processed_total",
      "The number of spans for which the processing has finished, either successful or failed.",
      processor,
    ),
    sdkLogsProcessed: counter(
      "otel_sdk_processor_log_processed_total",
      "The number of log records for which the processing has finished, either successful or " +
        "failed.",
      processor,
    ),
    sdkSpansExported: counter(
      "otel_sdk_exporter_span_exported_total",
      "The number of spans for which the export has finished, either successful or failed.",
      exporter,
    ),
    sdkLogsExported: counter(
      "otel_sdk_exporter_log_exported_total",
      "The number of log records for which the export has finished, either successful or failed.",
      exporter,
    ),
    targetInfo: new Gauge({
      name: "target_info",
      help: "Target metadata: the service's OpenTelemetry resource attributes.",
      labelNames: TARGET_INFO_ATTRIBUTES.map((name) => name.replaceAll(".", "_")),
      registers,
    }),
  };
}

/** The resource attributes `target_info` carries (as labels: dots become underscores). */
export const TARGET_INFO_ATTRIBUTES = [
  "service.name",
  "service.namespace",
  "service.version",
  "service.instance.id",
  "deployment.environment.name",
  "telemetry.sdk.name",
  "telemetry.sdk.language",
  "telemetry.sdk.version",
  "process.runtime.name",
  "process.runtime.version",
  "process.pid",
  "host.name",
] as const;

/** Label values of a histogram; a label that does not apply is left out, not empty. */
export type Labels<L extends string> = Partial<Record<L, string | number | undefined>>;

/**
 * Records `seconds` in `histogram`, with the trace and span of `span` as the bucket's exemplar
 * when the span is sampled (an exemplar must point at a trace that exists).
 */
export function observe<L extends string>(
  histogram: Histogram<L>,
  labels: Labels<L>,
  seconds: number,
  span?: Span,
): void {
  const context = span?.spanContext();
  const sampled = context !== undefined && (context.traceFlags & TraceFlags.SAMPLED) !== 0;
  histogram.observe({
    labels: defined(labels) as Record<L, string | number>,
    value: seconds,
    exemplarLabels:
      (sampled ? { trace_id: context.traceId, span_id: context.spanId } : {}) as Record<
        L,
        string
      >,
  });
}

/** `labels` without the entries that are undefined: a label that does not apply is left out. */
export function defined<L extends string>(
  labels: Partial<Record<L, string | number | undefined>>,
): Partial<Record<L, string | number>> {
  const out: Partial<Record<L, string | number>> = {};
  for (const name in labels) {
    const value = labels[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Process and runtime metrics of this host process, read at scrape time; created once per
 * process. They are served on exactly one service's `/metrics` (the host picks it), so a sum
 * over scrape targets counts each process once:
 * `process.memory.usage`, `process.cpu.time`, `process.uptime`, `v8js.memory.heap.used` and
 * `v8js.memory.heap.space.size` per heap space, and the event loop delay percentiles the
 * conventions name `nodejs.eventloop.delay.*` (Deno measures them through its Node API).
 */
export function processMetrics(): Registry {
  processRegistry ??= createProcessRegistry();
  return processRegistry;
}

let processRegistry: Registry | undefined;
const startedAt = performance.now();

function createProcessRegistry(): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: "process_memory_usage_bytes",
    help: "The amount of physical memory in use.",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new Counter({
    name: "process_cpu_time_seconds_total",
    help: "Total CPU seconds broken down by different CPU modes.",
    labelNames: ["cpu_mode"],
    registers,
    collect() {
      const usage = process.cpuUsage();
      this.reset();
      this.inc({ cpu_mode: "user" }, usage.user / 1e6);
      this.inc({ cpu_mode: "system" }, usage.system / 1e6);
    },
  });
  new Gauge({
    name: "process_uptime_seconds",
    help: "The time the process has been running.",
    registers,
    collect() {
      this.set((performance.now() - startedAt) / 1000);
    },
  });
  const heap = [
    ["v8js_memory_heap_used_bytes", "Heap Memory size allocated.", "space_used_size"],
    [
      "v8js_memory_heap_space_size_bytes",
      "Total heap memory size pre-allocated for a heap space.",
      "space_size",
    ],
  ] as const;
  for (const [name, help, field] of heap) {
    new Gauge({
      name,
      help,
      labelNames: ["v8js_heap_space_name"],
      registers,
      collect() {
        for (const space of v8.getHeapSpaceStatistics()) {
          this.set({ v8js_heap_space_name: space.space_name }, space[field]);
        }
      },
    });
  }
  const delays = new EventLoopDelay();
  const percentiles: Array<[string, string, (snapshot: DelaySnapshot) => number]> = [
    ["p50", "The 50th percentile of the event loop delay.", (s) => s.p50],
    ["p90", "The 90th percentile of the event loop delay.", (s) => s.p90],
    ["p99", "The 99th percentile of the event loop delay.", (s) => s.p99],
    ["max", "The maximum event loop delay.", (s) => s.max],
  ];
  for (const [suffix, help, read] of percentiles) {
    new Gauge({
      name: `nodejs_eventloop_delay_${suffix}_seconds`,
      help,
      registers,
      collect() {
        this.set(read(delays.snapshot()));
      },
    });
  }
  return registry;
}

/** Event loop delay percentiles, in seconds. */
interface DelaySnapshot {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Event loop delay, sampled as Node's `monitorEventLoopDelay` does: how late a 10 ms timer
 * fires. (Deno's own `monitorEventLoopDelay` does not see a blocked loop: a 300 ms block read
 * as 0.24 ms on Deno 2.9.) A snapshot covers the samples since the previous one, so each
 * scrape reports the delays since the scrape before; the gauges of one scrape share it.
 */
class EventLoopDelay {
  static readonly #RESOLUTION_MS = 10;
  static readonly #MAX_SAMPLES = 10_000;
  #samples: number[] = [];
  #last: { at: number; snapshot: DelaySnapshot } | undefined;

  constructor() {
    let expected = performance.now() + EventLoopDelay.#RESOLUTION_MS;
    const timer = setInterval(() => {
      const now = performance.now();
      if (this.#samples.length < EventLoopDelay.#MAX_SAMPLES) {
        this.#samples.push(Math.max(0, now - expected));
      }
      expected = now + EventLoopDelay.#RESOLUTION_MS;
    }, EventLoopDelay.#RESOLUTION_MS);
    Deno.unrefTimer(timer);
  }

  snapshot(): DelaySnapshot {
    const now = performance.now();
    if (this.#last && now - this.#last.at < 1000) return this.#last.snapshot;
    const sorted = this.#samples.splice(0).sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0
        ? 0
        : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] / 1000;
    const snapshot = { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
    this.#last = { at: now, snapshot };
    return snapshot;
  }
}
