/**
 * How failures become responses: a JSON `{error}` body always; 4xx for what the caller sent
 * (405 with `Allow` for a wrong method), 503 with `Retry-After` when a dependency is down, 500
 * (logged, on the span) for bugs; and a log line for every failed request.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createLogger } from "../log.ts";
 * import { handleErrors, logFailures, unmatched } from "./errors.ts";
 * const log = createLogger({ service: "app1", level: "info" });
 * const app = new Hono().use("*", logFailures(log));
 * app.onError(handleErrors(log));
 * app.notFound(unmatched(app));
 * ```
 * @module
 */
import { trace } from "@opentelemetry/api";
import type { ErrorHandler, Hono, MiddlewareHandler, NotFoundHandler } from "hono";
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

/**
 * What answers a request no route matched: a JSON 405 with `Allow` when the path has routes for
 * other methods (HEAD wherever GET is), else a JSON 404 naming the method and path. The routes
 * are read from `app` on first use, once all are registered.
 */
export function unmatched(app: Hono): NotFoundHandler {
  let routes: Array<{ method: string; pattern: URLPattern }> | undefined;
  return (c) => {
    routes ??= app.routes
      .filter((route) => route.method !== "ALL" && !route.path.includes("*"))
      .map((route) => ({
        method: route.method,
        pattern: new URLPattern({ pathname: route.path }),
      }));
    const path = c.req.path;
    const allowed = [
      ...new Set(
        routes.filter((route) => route.pattern.test({ pathname: path })).map((r) => r.method),
      ),
    ];
    if (allowed.length === 0) {
      return c.json({ error: `no function for ${c.req.method} ${path}` }, 404);
    }
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
    c.header("Allow", allowed.join(", "));
    return c.json({
      error: `${c.req.method} is not allowed on ${path}; use ${allowed.join(" or ")}`,
    }, 405);
  };
}

/**
 * Logs each answered request that failed, without bodies: 5xx at warn (unless an exception was
 * already logged where it was handled), 404 and 405 at debug, other 4xx at info. Inside the
 * SERVER span, so the line carries its trace id.
 */
export function logFailures(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    if (status < 400) return;
    if (c.error !== undefined && !(c.error instanceof HTTPException)) return; // handleErrors said it
    const level = status >= 500 ? "warn" : status === 404 || status === 405 ? "debug" : "info";
    log[level]("request failed", {
      method: c.req.method,
      route: c.req.routePath === "/*" ? undefined : c.req.routePath,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}
