/**
 * One Prometheus registry per service, with every metric the host records.
 *
 * HTTP server metrics (`http_request_duration_seconds`, `http_requests_total`) come from
 * `@hono/prometheus` and are registered on the same registry by the HTTP server module.
 *
 * @example
 * ```ts
 * import { createMetrics } from "./metrics.ts";
 * const metrics = createMetrics();
 * metrics.kafkaProduced.inc({ topic: "Purchase" });
 * const text = await metrics.registry.metrics();
 * ```
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Latency buckets in seconds, from sub-millisecond calls to multi-second outages. */
const SECONDS_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The metrics of one service. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpClientDuration: Histogram<"method" | "server_address" | "status">;
  readonly kafkaProduced: Counter<"topic">;
  readonly kafkaProduceFailures: Counter<"topic">;
  readonly kafkaProducerBatchMessages: Histogram<"topic">;
  readonly kafkaProducerLinger: Histogram<"topic">;
  readonly kafkaConsumed: Counter<"topic" | "group">;
  readonly kafkaFailed: Counter<"topic" | "group">;
  readonly kafkaRetries: Counter<"topic" | "group">;
  readonly kafkaProcessDuration: Histogram<"topic" | "group">;
  readonly kafkaConsumerLag: Gauge<"topic" | "group" | "partition">;
  readonly cronRuns: Counter<"function" | "outcome">;
  readonly cronDuration: Histogram<"function">;
  readonly cronLastSuccess: Gauge<"function">;
  readonly dbDuration: Histogram<"db_system_name" | "db_operation_name" | "outcome">;
  readonly dependencyUp: Gauge<"dependency">;
  readonly telemetryDropped: Counter<"signal" | "reason">;
  readonly telemetryExportFailures: Counter<"signal">;
}

/** Creates a registry holding the host's metrics, plus Deno process metrics read at scrape time. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    httpClientDuration: new Histogram({
      name: "http_client_request_duration_seconds",
      help: "Duration of outgoing HTTP requests made through the traced fetch",
      labelNames: ["method", "server_address", "status"],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    kafkaProduced: new Counter({
      name: "kafka_messages_produced_total",
      help: "Messages the broker acknowledged",
      labelNames: ["topic"],
      registers,
    }),
    kafkaProduceFailures: new Counter({
      name: "kafka_produce_failures_total",
      help: "Messages the broker did not acknowledge (the caller got an error)",
      labelNames: ["topic"],
      registers,
    }),
    kafkaProducerBatchMessages: new Histogram({
      name: "kafka_producer_batch_messages",
      help:
        "Messages in the produce request each sent message went out in (one sample per message)",
      labelNames: ["topic"],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    kafkaProducerLinger: new Histogram({
      name: "kafka_producer_linger_seconds",
      help: "Time a sent message waited for its batch to leave (linger, or requests in flight)",
      labelNames: ["topic"],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    kafkaConsumed: new Counter({
      name: "kafka_messages_consumed_total",
      help: "Messages a Kafka-triggered function handled successfully",
      labelNames: ["topic", "group"],
      registers,
    }),
    kafkaFailed: new Counter({
      name: "kafka_messages_failed_total",
      help: "Messages whose handling failed for good and went to the dead-letter topic",
      labelNames: ["topic", "group"],
      registers,
    }),
    kafkaRetries: new Counter({
      name: "kafka_message_retries_total",
      help: "Handler attempts that failed and were retried",
      labelNames: ["topic", "group"],
      registers,
    }),
    kafkaProcessDuration: new Histogram({
      name: "kafka_message_process_duration_seconds",
      help: "Time to handle one message, retries included",
      labelNames: ["topic", "group"],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    kafkaConsumerLag: new Gauge({
      name: "kafka_consumer_lag",
      help: "Messages in the partition not yet handled by the group (high watermark - next offset)",
      labelNames: ["topic", "group", "partition"],
      registers,
    }),
    cronRuns: new Counter({
      name: "cron_runs_total",
      help: "Cron function runs by outcome (success, error, skipped when the previous run overran)",
      labelNames: ["function", "outcome"],
      registers,
    }),
    cronDuration: new Histogram({
      name: "cron_run_duration_seconds",
      help: "Duration of cron function runs",
      labelNames: ["function"],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    cronLastSuccess: new Gauge({
      name: "cron_last_success_timestamp_seconds",
      help: "Unix time of the cron function's last successful run",
      labelNames: ["function"],
      registers,
    }),
    dbDuration: new Histogram({
      name: "db_client_operation_duration_seconds",
      help: "Duration of database and cache client operations",
      labelNames: ["db_system_name", "db_operation_name", "outcome"],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    dependencyUp: new Gauge({
      name: "dependency_up",
      help: "1 when the last check of a dependency succeeded, 0 when it failed",
      labelNames: ["dependency"],
      registers,
    }),
    telemetryDropped: new Counter({
      name: "otel_dropped_total",
      help: "Spans and log records dropped before export (queue full or export failed)",
      labelNames: ["signal", "reason"],
      registers,
    }),
    telemetryExportFailures: new Counter({
      name: "otel_export_failures_total",
      help: "OTLP export requests that failed",
      labelNames: ["signal"],
      registers,
    }),
  };
  registerProcessMetrics(registry);
  return metrics;
}

const startTimeSeconds = Date.now() / 1000;

function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const memory: Array<[string, string, keyof Deno.MemoryUsage]> = [
    ["deno_memory_rss_bytes", "Resident set size of the host process", "rss"],
    ["deno_memory_heap_total_bytes", "V8 heap allocated", "heapTotal"],
    ["deno_memory_heap_used_bytes", "V8 heap in use", "heapUsed"],
    ["deno_memory_external_bytes", "Memory of objects outside the V8 heap", "external"],
  ];
  for (const [name, help, field] of memory) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(Deno.memoryUsage()[field]);
      },
    });
  }
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the host process since the Unix epoch",
    registers,
    collect() {
      this.set(startTimeSeconds);
    },
  });
  new Gauge({
    name: "deno_event_loop_lag_seconds",
    help: "How late a zero-delay timer fired, measured at scrape time",
    registers,
    async collect() {
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 0));
      this.set((performance.now() - start) / 1000);
    },
  });
}
