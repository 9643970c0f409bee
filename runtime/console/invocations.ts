/**
 * Per-function rate, errors and latency from invocation spans (SERVER spans, CONSUMER `process
 * <topic>` spans, cron roots), kept in fixed time buckets over a sliding window, so the figures
 * hold however many traces the trace buffer had to drop.
 *
 * @example
 * ```ts
 * import { InvocationSeries } from "./invocations.ts";
 * const series = new InvocationSeries();
 * console.log(series.overview(Date.now()).length); // 0
 * ```
 * @module
 */
import type { FunctionMetrics, SpanRecord } from "./model.ts";
import { LatencyHistogram } from "./percentile.ts";

/** Options of an {@linkcode InvocationSeries}. */
export interface InvocationSeriesOptions {
  /** How far back the figures go. */
  readonly windowMs?: number;
  /** The width of one bucket of the charts. */
  readonly bucketMs?: number;
  /** Distinct functions tracked; spans of further ones are counted as dropped. */
  readonly maxFunctions?: number;
}

interface Bucket {
  readonly start: number;
  calls: number;
  errors: number;
  readonly latency: LatencyHistogram;
}

interface Tracked {
  readonly service: string;
  readonly name: string;
  readonly trigger: FunctionMetrics["trigger"];
  /** Oldest first. */
  readonly buckets: Bucket[];
}

/** The trigger of an invocation span, or undefined when the span is no invocation. */
export function invocationTrigger(span: SpanRecord): FunctionMetrics["trigger"] | undefined {
  // A cron run is a root SERVER span too (a FaaS invocation): its trigger says which.
  if (span.attributes["faas.trigger"] === "timer" && span.parentSpanId === undefined) {
    return "timer";
  }
  if (span.kind === "server") return "http";
  if (span.kind === "consumer") return "kafka";
  return undefined;
}

/** Bounded per-function time series. */
export class InvocationSeries {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly #maxFunctions: number;
  readonly #functions = new Map<string, Tracked>();
  /** Invocations not tracked because {@linkcode InvocationSeriesOptions.maxFunctions} was reached. */
  dropped = 0;
  /** When the first invocation ended: a rate covers only the time invocations were watched. */
  #since?: number;

  constructor(options: InvocationSeriesOptions = {}) {
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.bucketMs = options.bucketMs ?? 10_000;
    this.#maxFunctions = options.maxFunctions ?? 1000;
  }

  /** Counts `span` when it is an invocation; its end decides its bucket. */
  record(span: SpanRecord): void {
    const trigger = invocationTrigger(span);
    if (trigger === undefined) return;
    const key = `${span.service}\u0000${span.name}`;
    let tracked = this.#functions.get(key);
    if (!tracked) {
      if (this.#functions.size >= this.#maxFunctions) {
        this.dropped++;
        return;
      }
      tracked = { service: span.service, name: span.name, trigger, buckets: [] };
      this.#functions.set(key, tracked);
    }
    const end = span.start + span.durationMs;
    this.#since = Math.min(this.#since ?? end, end);
    const start = Math.floor(end / this.bucketMs) * this.bucketMs;
    const buckets = tracked.buckets;
    // Spans arrive roughly in order; a late one finds its bucket near the end.
    let bucket: Bucket | undefined;
    for (let i = buckets.length - 1; i >= 0; i--) {
      if (buckets[i].start === start) {
        bucket = buckets[i];
        break;
      }
      if (buckets[i].start < start) {
        bucket = { start, calls: 0, errors: 0, latency: new LatencyHistogram() };
        buckets.splice(i + 1, 0, bucket);
        break;
      }
    }
    if (!bucket) {
      bucket = { start, calls: 0, errors: 0, latency: new LatencyHistogram() };
      buckets.unshift(bucket);
    }
    bucket.calls++;
    if (span.status === "error") bucket.errors++;
    bucket.latency.record(span.durationMs);
    this.#prune(tracked, Date.now());
  }

  /** Figures over the window ending at `now`, busiest function first. */
  overview(now: number): FunctionMetrics[] {
    const from = now - this.windowMs;
    // Seconds watched within the window, at least one bucket, so a young host's rate is not
    // diluted by minutes it did not run, nor inflated by its first second.
    const watchedSeconds = Math.max(now - Math.max(from, this.#since ?? now), this.bucketMs) / 1000;
    const result: FunctionMetrics[] = [];
    for (const [key, tracked] of this.#functions) {
      this.#prune(tracked, now);
      if (tracked.buckets.length === 0) {
        this.#functions.delete(key);
        continue;
      }
      const all = new LatencyHistogram();
      let calls = 0;
      let errors = 0;
      const series = [];
      for (const bucket of tracked.buckets) {
        if (bucket.start + this.bucketMs <= from) continue;
        all.merge(bucket.latency);
        calls += bucket.calls;
        errors += bucket.errors;
        series.push({
          time: bucket.start,
          calls: bucket.calls,
          errors: bucket.errors,
          p95Ms: bucket.latency.percentile(0.95),
        });
      }
      result.push({
        service: tracked.service,
        name: tracked.name,
        trigger: tracked.trigger,
        calls,
        errors,
        rate: calls / watchedSeconds,
        p50Ms: all.percentile(0.5),
        p95Ms: all.percentile(0.95),
        p99Ms: all.percentile(0.99),
        series,
      });
    }
    return result.sort((a, b) =>
      b.calls - a.calls || a.service.localeCompare(b.service) || a.name.localeCompare(b.name)
    );
  }

  #prune(tracked: Tracked, now: number): void {
    const oldest = now - this.windowMs - this.bucketMs;
    let drop = 0;
    while (drop < tracked.buckets.length && tracked.buckets[drop].start < oldest) drop++;
    if (drop > 0) tracked.buckets.splice(0, drop);
  }
}
