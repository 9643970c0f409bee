/**
 * Errors that carry a decision: retry or not, which status a caller gets.
 *
 * @example
 * ```ts
 * import { DependencyUnavailableError, PermanentError } from "./errors.ts";
 * const outage = new DependencyUnavailableError("postgres", new Error("ECONNREFUSED"));
 * console.log(outage.message); // "postgres is unavailable"
 * const poison = new PermanentError("value is not JSON");
 * console.log(poison.name); // "PermanentError"
 * ```
 * @module
 */

/** A message that can never be handled: it goes to the dead-letter topic without retries. */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermanentError";
  }
}

/** A backing service (or another function) cannot be reached: callers get 503, consumers retry. */
export class DependencyUnavailableError extends Error {
  constructor(readonly dependency: string, cause?: unknown) {
    super(`${dependency} is unavailable`, { cause });
    this.name = "DependencyUnavailableError";
  }
}

/** A short, value-free description of an error, safe for logs and span attributes. */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && /^[\w.-]{1,40}$/.test(code) ? code : error.name;
  }
  return typeof error;
}
