/**
 * The app a service serves: `/healthz`, `/readyz` and `/metrics` first (untraced), then the
 * service's functions behind tracing (spans and `http_server_request_duration_seconds`), a header
 * and body size limit and JSON error mapping.
 *
 * @example
 * ```ts
 * import { Hono, type MiddlewareHandler } from "hono";
 * import { loadConfig } from "../config.ts";
 * import { Readiness } from "../health.ts";
 * import { createServiceTelemetry, ExportStatus } from "../telemetry/provider.ts";
 * import { createServiceApp } from "./server.ts";
 * const telemetry = createServiceTelemetry(
 *   "app1",
 *   loadConfig({ OTEL_SDK_DISABLED: "true" }),
 *   new ExportStatus(() => {}),
 * );
 * const app = createServiceApp({
 *   telemetry,
 *   readiness: new Readiness({}, telemetry.metrics),
 *   functions: new Hono().get("/hello", (c) => c.text("hi")),
 *   maxBodyBytes: 65536,
 * });
 * console.log((await app.request("/healthz")).status); // 200
 * ```
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Readiness } from "../health.ts";
import { expose, negotiate } from "../telemetry/exposition.ts";
import { processMetrics } from "../telemetry/metrics.ts";
import type { ServiceTelemetry } from "../telemetry/provider.ts";
import { handleErrors, logFailures, unmatched } from "./errors.ts";
import { traceRequests } from "./tracing.ts";

/** What a service app is made of. */
export interface ServiceAppOptions {
  readonly telemetry: ServiceTelemetry;
  readonly readiness: Readiness;
  /** The service's HTTP functions, if it has any. */
  readonly functions?: Hono;
  readonly maxBodyBytes: number;
  /**
   * Whether this service's `/metrics` also serves the process-wide metrics (`process_*`,
   * `v8js_*`, `nodejs_eventloop_*`). The host sets it on exactly one service, so a sum over
   * scrape targets counts the process once.
   */
  readonly processMetrics?: boolean;
}

/** Largest request header section accepted, in bytes (names and values). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Answers 431 with a JSON error when the request's headers are larger than `maxBytes`. */
function limitHeaders(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    let size = 0;
    // forEach, not for-of: Deno's Headers iterator costs several times more per request.
    c.req.raw.headers.forEach((value, name) => size += name.length + value.length + 4);
    if (size > maxBytes) {
      return c.json({ error: `request headers exceed ${maxBytes} bytes` }, 431);
    }
    await next();
  };
}

/**
 * Answers 413 with a JSON error when the request body is larger than `maxBytes`. A declared
 * Content-Length is checked without touching the body, so Deno can hand the handler the whole
 * body at once instead of through a stream; only a body without one is counted as it streams.
 */
function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Context) => c.json({ error: `request body exceeds ${maxBytes} bytes` }, 413);
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length === null || headers.has("transfer-encoding")) return counted(c, next);
    return parseInt(length, 10) > maxBytes ? Promise.resolve(tooLarge(c)) : next();
  };
}

/** Builds the full app of a service. */
export function createServiceApp(options: ServiceAppOptions): Hono {
  const { telemetry, readiness, maxBodyBytes } = options;
  const registries = options.processMetrics
    ? [telemetry.metrics.registry, processMetrics()]
    : [telemetry.metrics.registry];
  const app = new Hono();
  // The header limit covers the operational endpoints too; they stay untraced.
  const headerLimit = limitHeaders(MAX_HEADER_BYTES);
  app.get("/healthz", headerLimit, (c) => c.json({ status: "ok" }));
  app.get("/readyz", headerLimit, async (c) => {
    const report = await readiness.check();
    return c.json(report, report.ready ? 200 : 503);
  });
  // Classic Prometheus text, or OpenMetrics with exemplars when the scraper asks for it.
  app.get("/metrics", headerLimit, async (c) => {
    const format = negotiate(c.req.header("accept"));
    return c.body(await expose(registries, format), 200, {
      "Content-Type": format.contentType,
      "Vary": "Accept",
    });
  });
  app.use(
    "*",
    traceRequests(telemetry.tracer, telemetry.metrics),
    logFailures(telemetry.log),
    headerLimit,
    limitBody(maxBodyBytes),
  );
  if (options.functions) app.route("/", options.functions);
  app.notFound(unmatched(app));
  app.onError(handleErrors(telemetry.log));
  return app;
}
