/**
 * Metric points as bounded time series (a ring of points per series, a cap on series), and the
 * per-consumer figures the Metrics page shows, read from them through one name mapping.
 *
 * @example
 * ```ts
 * import { MetricSeriesStore } from "./metric_series.ts";
 * const store = new MetricSeriesStore();
 * store.add({ time: Date.now(), service: "app2", name: "messaging_kafka_consumer_lag",
 *   kind: "gauge", value: 3, labels: { messaging_destination_name: "Purchase",
 *   messaging_consumer_group_name: "app2", messaging_destination_partition_id: "0" } });
 * console.log(store.consumers(Date.now(), 600_000, 10_000)[0]?.lag); // 3
 * ```
 * @module
 */
import type { ConsumerMetrics, MetricPoint } from "./model.ts";

/**
 * Where the consumer figures come from. Prometheus-style names (as `/metrics` spells them);
 * names ingested over OTLP are compared after dots become underscores, with or without the
 * `_total` a counter gets in Prometheus. A metric rename is an edit here (the semantic-convention
 * names first, the host's earlier names after them while both may be met).
 */
export const CONSUMER_METRICS = {
  /** Messages a Kafka-triggered function handled. */
  processed: ["messaging_client_consumed_messages_total", "kafka_messages_consumed_total"],
  /** Handler attempts that failed (and were retried). */
  failed: ["messaging_process_retries_total", "kafka_message_retries_total"],
  /** Messages that failed for good and went to the dead-letter topic. */
  deadLettered: ["messaging_client_dead_lettered_messages_total", "kafka_messages_failed_total"],
  /** Messages not yet handled, per partition. */
  lag: ["messaging_kafka_consumer_lag", "kafka_consumer_lag"],
  /** Label names of the topic and the consumer group. */
  topicLabels: ["topic", "messaging_destination_name"],
  groupLabels: ["group", "messaging_consumer_group_name"],
} as const;

/** Options of a {@linkcode MetricSeriesStore}. */
export interface MetricSeriesOptions {
  /** Points kept per series, oldest dropped first. */
  readonly pointsPerSeries?: number;
  /** Series kept; points of further series are dropped (and counted). */
  readonly maxSeries?: number;
}

interface Series {
  readonly service: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly points: MetricPoint[];
}

/** A metric name as Prometheus spells it: dots and dashes become underscores. */
export function promName(name: string): string {
  return name.replace(/[.\-/]/g, "_");
}

function matches(name: string, wanted: readonly string[]): boolean {
  const normal = promName(name);
  return wanted.some((w) => w === normal || w === `${normal}_total`);
}

function label(labels: Readonly<Record<string, string>>, names: readonly string[]) {
  for (const name of names) {
    const value = labels[name] ?? labels[name.replace(/_/g, ".")];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Bounded metric series. */
export class MetricSeriesStore {
  readonly #pointsPerSeries: number;
  readonly #maxSeries: number;
  readonly #series = new Map<string, Series>();
  #kept = 0;
  /** Points dropped: overwritten by newer ones, or of series beyond the cap. */
  dropped = 0;

  constructor(options: MetricSeriesOptions = {}) {
    this.#pointsPerSeries = options.pointsPerSeries ?? 120;
    this.#maxSeries = options.maxSeries ?? 2000;
  }

  /** Points kept now. */
  get kept(): number {
    return this.#kept;
  }

  /**
   * Adds a point to its series (service, name and labels); a `delta` point's value, count and
   * sum are added to the series' last ones.
   */
  add(point: MetricPoint, delta = false): void {
    const key = seriesKey(point.service, point.name, point.labels);
    let series = this.#series.get(key);
    if (!series) {
      if (this.#series.size >= this.#maxSeries) {
        this.dropped++;
        return;
      }
      series = { service: point.service, name: point.name, labels: point.labels, points: [] };
      this.#series.set(key, series);
    }
    const last = series.points[series.points.length - 1];
    if (delta && last) {
      point = {
        ...point,
        ...(point.value !== undefined ? { value: (last.value ?? 0) + point.value } : {}),
        ...(point.count !== undefined ? { count: (last.count ?? 0) + point.count } : {}),
        ...(point.sum !== undefined ? { sum: (last.sum ?? 0) + point.sum } : {}),
      };
    }
    series.points.push(point);
    this.#kept++;
    if (series.points.length > this.#pointsPerSeries) {
      series.points.shift();
      this.#kept--;
      this.dropped++;
    }
  }

  /** Every series of metric `name` (compared as {@linkcode promName} spells it). */
  find(names: readonly string[]): Series[] {
    return [...this.#series.values()].filter((series) => matches(series.name, names));
  }

  /** Per consumer (service, topic, group): totals and per-bucket increments over the window. */
  consumers(now: number, windowMs: number, bucketMs: number): ConsumerMetrics[] {
    const from = now - windowMs;
    interface Acc {
      service: string;
      topic: string;
      group: string;
      processed: number;
      failed: number;
      deadLettered: number;
      lag?: number;
      buckets: Map<number, { processed: number; failed: number; lag?: number }>;
    }
    const consumers = new Map<string, Acc>();
    const consumer = (series: Series) => {
      const topic = label(series.labels, CONSUMER_METRICS.topicLabels);
      const group = label(series.labels, CONSUMER_METRICS.groupLabels);
      if (topic === undefined || group === undefined) return undefined;
      const key = `${series.service}\u0000${topic}\u0000${group}`;
      let acc = consumers.get(key);
      if (!acc) {
        acc = {
          service: series.service,
          topic,
          group,
          processed: 0,
          failed: 0,
          deadLettered: 0,
          buckets: new Map(),
        };
        consumers.set(key, acc);
      }
      return acc;
    };
    const bucketOf = (acc: Acc, time: number) => {
      const start = Math.floor(time / bucketMs) * bucketMs;
      let bucket = acc.buckets.get(start);
      if (!bucket) acc.buckets.set(start, bucket = { processed: 0, failed: 0 });
      return bucket;
    };
    const counters = [
      ["processed", CONSUMER_METRICS.processed],
      ["failed", CONSUMER_METRICS.failed],
      ["deadLettered", CONSUMER_METRICS.deadLettered],
    ] as const;
    for (const [field, names] of counters) {
      for (const series of this.find(names)) {
        const acc = consumer(series);
        if (!acc) continue;
        const points = series.points;
        const last = points[points.length - 1];
        acc[field] += last?.value ?? 0;
        if (field === "deadLettered") continue;
        for (let i = 1; i < points.length; i++) {
          if (points[i].time < from) continue;
          // A counter that went down was restarted: its new value is all increase.
          const before = points[i - 1].value ?? 0;
          const now = points[i].value ?? 0;
          bucketOf(acc, points[i].time)[field] += now >= before ? now - before : now;
        }
      }
    }
    // Lag: the latest value of each partition, summed; per bucket, the last sample's sum.
    const lagByBucket = new Map<Acc, Map<number, Map<string, number>>>();
    for (const series of this.find(CONSUMER_METRICS.lag)) {
      const acc = consumer(series);
      if (!acc) continue;
      const last = series.points[series.points.length - 1];
      if (last?.value !== undefined && last.time >= from) acc.lag = (acc.lag ?? 0) + last.value;
      const partition = seriesKey("", "", series.labels);
      let perBucket = lagByBucket.get(acc);
      if (!perBucket) lagByBucket.set(acc, perBucket = new Map());
      for (const point of series.points) {
        if (point.time < from || point.value === undefined) continue;
        const start = Math.floor(point.time / bucketMs) * bucketMs;
        let partitions = perBucket.get(start);
        if (!partitions) perBucket.set(start, partitions = new Map());
        partitions.set(partition, point.value);
      }
    }
    for (const [acc, perBucket] of lagByBucket) {
      for (const [start, partitions] of perBucket) {
        bucketOf(acc, start).lag = [...partitions.values()].reduce((a, b) => a + b, 0);
      }
    }
    return [...consumers.values()].map((acc) => ({
      service: acc.service,
      topic: acc.topic,
      group: acc.group,
      processed: acc.processed,
      failed: acc.failed,
      deadLettered: acc.deadLettered,
      ...(acc.lag !== undefined ? { lag: acc.lag } : {}),
      series: [...acc.buckets.entries()].sort((a, b) => a[0] - b[0]).map(([time, bucket]) => ({
        time,
        processed: bucket.processed,
        failed: bucket.failed,
        ...(bucket.lag !== undefined ? { lag: bucket.lag } : {}),
      })),
    })).sort((a, b) =>
      a.service.localeCompare(b.service) || a.topic.localeCompare(b.topic) ||
      a.group.localeCompare(b.group)
    );
  }
}

function seriesKey(service: string, name: string, labels: Readonly<Record<string, string>>) {
  const keys = Object.keys(labels).sort();
  let key = `${service}\u0000${name}`;
  for (const k of keys) key += `\u0000${k}=${labels[k]}`;
  return key;
}
