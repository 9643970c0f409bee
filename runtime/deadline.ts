/**
 * Bounding how long something may take.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * const answer = await withDeadline(Promise.resolve(42), 1000);
 * console.log(answer); // 42
 * ```
 * @module
 */

/** Raised when an operation outlives its deadline. */
export class DeadlineError extends Error {
  override name = "Timeout";
}

/** Rejects with a {@linkcode DeadlineError} when `promise` takes longer than `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
