/**
 * Hono middleware that makes each request a SERVER span named `METHOD /route`, child of the
 * caller's W3C trace context, with the HTTP semantic-convention attributes.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { trace } from "@opentelemetry/api";
 * import { traceRequests } from "./tracing.ts";
 * const app = new Hono().use("*", traceRequests(trace.getTracer("app1")));
 * app.post("/Message", (c) => c.json({ ok: true }));
 * ```
 * @module
 */
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { extractContext } from "../telemetry/propagation.ts";

/** The route Hono reports for a request that matched no function. */
const UNMATCHED = "/*";

/** Traces every request that reaches it. */
export function traceRequests(tracer: Tracer): MiddlewareHandler {
  return async (c, next) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const parent = extractContext(request.headers);
    const span = tracer.startSpan(request.method, {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": request.method,
        "url.path": url.pathname,
        "url.scheme": url.protocol.slice(0, -1),
        "server.address": url.hostname,
        "server.port": Number(url.port) || (url.protocol === "https:" ? 443 : 80),
        "user_agent.original": request.headers.get("user-agent") ?? undefined,
        "faas.trigger": "http",
      },
    }, parent);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = c.req.routePath;
      if (route !== UNMATCHED) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute("http.route", route);
      }
      const status = c.res.status;
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        // Exceptions of the function are recorded by type; a status it chose is its own type.
        if (c.error === undefined || c.error instanceof HTTPException) {
          span.setAttribute("error.type", String(status));
        }
      }
      span.end();
    }
  };
}
