/**
 * Waiting in tests and benchmarks: a pause, and polling until something holds or answers.
 *
 * @example
 * ```ts
 * import { delay, waitFor } from "./wait.ts";
 * let ready = false;
 * setTimeout(() => ready = true, 20);
 * await waitFor("ready", () => ready);
 * const answer = await waitFor("an answer", () => ready ? 42 : undefined, 1000);
 * await delay(1);
 * console.log(answer); // 42
 * ```
 * @module
 */

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` every `intervalMs` until it gives something other than `undefined` or `false`,
 * and resolves with it. A probe that throws is tried again; after `timeoutMs` the error names
 * `what` and carries the last failure as its cause.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<T> {
  const until = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await delay(intervalMs);
  }
}
