/**
 * How failures become responses: a JSON `{error}` body always; 4xx for what the caller sent,
 * 503 with `Retry-After` when a dependency is down, 500 (logged, on the span) for bugs.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createLogger } from "../log.ts";
 * import { handleErrors, notFound } from "./errors.ts";
 * const app = new Hono();
 * app.onError(handleErrors(createLogger({ service: "app1", level: "info" })));
 * app.notFound(notFound);
 * ```
 * @module
 */
import { trace } from "@opentelemetry/api";
import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { DependencyMisconfiguredError, DependencyUnavailableError, errorType } from "../errors.ts";
import type { Logger } from "../function.ts";
import { recordError } from "../telemetry/span.ts";

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** Maps errors thrown by functions to JSON responses. */
export function handleErrors(log: Logger): ErrorHandler {
  return (error, c) => {
    const span = trace.getActiveSpan();
    if (error instanceof HTTPException) {
      if (span && error.status >= 500) recordError(span, error);
      return c.json({ error: error.message || "bad request" }, error.status);
    }
    if (span) recordError(span, error);
    if (error instanceof DependencyMisconfiguredError) {
      log.error("dependency refuses the configuration", {
        dependency: error.dependency,
        reason: error.reason,
        route: c.req.routePath,
      });
      c.header("Retry-After", String(RETRY_AFTER_SECONDS));
      return c.json({ error: error.message }, 503);
    }
    if (error instanceof DependencyUnavailableError) {
      log.warn("dependency unavailable", {
        dependency: error.dependency,
        error_type: errorType(error.cause),
        route: c.req.routePath,
      });
      c.header("Retry-After", String(RETRY_AFTER_SECONDS));
      return c.json({ error: error.message }, 503);
    }
    log.error("unhandled error", { error, route: c.req.routePath });
    return c.json({ error: "internal error" }, 500);
  };
}

/** A JSON 404 naming the method and path that matched nothing. */
export const notFound: NotFoundHandler = (c) =>
  c.json({ error: `no function for ${c.req.method} ${c.req.path}` }, 404);
