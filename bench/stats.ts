/**
 * Small statistics for benchmark samples: medians of repeated runs, percentiles of latencies,
 * and the least-squares slope that says whether memory is flat.
 *
 * @example
 * ```ts
 * import { median, percentile, slope } from "./stats.ts";
 * console.log(median([3, 1, 2])); // 2
 * console.log(percentile([1, 2, 3, 4], 0.5)); // 2
 * console.log(slope([[0, 1], [1, 3]])); // 2
 * ```
 * @module
 */

/** The middle value (the mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The nearest-rank percentile `q` (0 < q <= 1) of `values`; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** The least-squares slope of `points` ([x, y] pairs); 0 with fewer than two distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

/** `values` rotated left by `by`, so each round of an alternating run starts with another side. */
export function rotate<T>(values: readonly T[], by: number): T[] {
  const shift = ((by % values.length) + values.length) % values.length;
  return [...values.slice(shift), ...values.slice(0, shift)];
}
