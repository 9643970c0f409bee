/**
 * Percentiles: exact ones over a list of durations, and a fixed-size log-scale histogram for
 * long-running series, whose percentiles are within 5% of the true value.
 *
 * @example
 * ```ts
 * import { LatencyHistogram, percentile } from "./percentile.ts";
 * console.log(percentile([1, 2, 3, 4], 0.5)); // 2
 * const histogram = new LatencyHistogram();
 * histogram.record(12);
 * console.log(Math.round(histogram.percentile(0.95))); // 12
 * ```
 * @module
 */

/** The nearest-rank percentile `q` (0..1) of `values`; 0 for none. Sorts `values` in place. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const rank = Math.ceil(q * values.length) - 1;
  return values[Math.min(values.length - 1, Math.max(0, rank))];
}

/** Bucket bounds grow by this factor: a bucket's midpoint is within 5% of any value in it. */
const GROWTH = 1.1;
const SMALLEST_MS = 0.01;
/** 0.01 ms to about 3 hours. */
const BUCKETS = Math.ceil(Math.log(3 * 3600_000 / SMALLEST_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

/** Counts of durations (milliseconds) in log-spaced buckets. */
export class LatencyHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  total = 0;

  /** Adds one duration. */
  record(ms: number): void {
    const index = ms <= SMALLEST_MS
      ? 0
      : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / SMALLEST_MS) / LOG_GROWTH));
    this.counts[index]++;
    this.total++;
  }

  /** Adds every count of `other`. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
  }

  /** The `q` percentile (0..1): the geometric middle of the bucket holding that rank. */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        if (i === 0) return SMALLEST_MS;
        const upper = SMALLEST_MS * GROWTH ** i;
        return upper / Math.sqrt(GROWTH);
      }
    }
    return SMALLEST_MS * GROWTH ** (BUCKETS - 1);
  }
}
