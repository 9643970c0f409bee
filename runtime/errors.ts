/**
 * Errors that carry a decision: retry or not, which status a caller gets.
 *
 * @example
 * ```ts
 * import { DependencyUnavailableError, isConnectionFailure, PermanentError } from "./errors.ts";
 * const outage = new DependencyUnavailableError("postgres", new Error("ECONNREFUSED"));
 * console.log(outage.message); // "postgres is unavailable"
 * const poison = new PermanentError("value is not JSON");
 * console.log(poison.name); // "PermanentError"
 * console.log(isConnectionFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))); // true
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

/**
 * A backing service answers but refuses this host's configuration (a wrong password or token, a
 * database that does not exist): retrying will not help until an operator fixes it. It is still
 * not the message's fault, so like an outage it is waited out (no attempts spent, 503 to
 * callers); readiness reports it as misconfigured, with `reason` (a SQLSTATE or HTTP status).
 */
export class DependencyMisconfiguredError extends DependencyUnavailableError {
  constructor(dependency: string, readonly reason: string, cause?: unknown) {
    super(dependency, cause);
    this.message = `${dependency} refuses the configured credentials or database (${reason})`;
    this.name = "DependencyMisconfiguredError";
  }
}

/** Error codes of failed or timed-out connections: Node-style errno names and postgres.js's. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTCONN",
  "EADDRNOTAVAIL",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * Whether `error` says a server could not be reached or did not answer in time: a refused,
 * reset or timed-out connection, a failed DNS lookup, `fetch`'s network failure, an aborted or
 * timed-out wait. Anything else (a bug, a refused command) is not an outage.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  if (name === "TimeoutError" || name === "AbortError") return true;
  // Deno's fetch: TypeError("fetch failed") with the network error as its cause.
  if (error instanceof TypeError && /^fetch failed\b/i.test(error.message)) return true;
  return [
    Deno.errors.ConnectionRefused,
    Deno.errors.ConnectionReset,
    Deno.errors.ConnectionAborted,
    Deno.errors.TimedOut,
    Deno.errors.BrokenPipe,
    Deno.errors.NotConnected,
    Deno.errors.AddrNotAvailable,
  ].some((type) => error instanceof type);
}

/** A short, value-free description of an error, safe for logs and span attributes. */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && /^[\w.-]{1,40}$/.test(code) ? code : error.name;
  }
  return typeof error;
}
