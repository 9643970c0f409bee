/**
 * `fetch` with a CLIENT span per request and W3C trace context in the request headers, so the
 * called function's SERVER span joins the caller's trace. Redirects are never followed: a callee
 * answering 3xx could otherwise steer the call, its body and its baggage to another host; the
 * caller gets the 3xx itself (or a TypeError with `redirect: "error"`).
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "../telemetry/metrics.ts";
 * import { createTracedFetch } from "./fetch.ts";
 * const tracedFetch = createTracedFetch(trace.getTracer("app1"), createMetrics());
 * // await tracedFetch("http://localhost:8003/PostMessage", { method: "POST", body: "{}" });
 * ```
 * @module
 */
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { Metrics } from "../telemetry/metrics.ts";
import { injectContext } from "../telemetry/propagation.ts";
import { context } from "@opentelemetry/api";
import { withSpan } from "../telemetry/span.ts";

/** Creates a traced `fetch` recording spans on `tracer` and durations in `metrics`. */
export function createTracedFetch(tracer: Tracer, metrics: Metrics): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    const started = performance.now();
    let status = "error";
    return withSpan(tracer, request.method, SpanKind.CLIENT, {
      "http.request.method": request.method,
      "url.full": `${url.origin}${url.pathname}`,
      "server.address": url.hostname,
      "server.port": port,
    }, async (span) => {
      try {
        const headers = new Headers(request.headers);
        injectContext(context.active(), headers);
        const redirect = init?.redirect === "error" ? "error" : "manual";
        const response = await fetch(new Request(request, { headers, redirect }));
        status = String(response.status);
        span.setAttribute("http.response.status_code", response.status);
        if (response.status >= 400) {
          span.setAttribute("error.type", status);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return response;
      } finally {
        metrics.httpClientDuration.observe(
          { method: request.method, server_address: `${url.hostname}:${port}`, status },
          (performance.now() - started) / 1000,
        );
      }
    });
  };
}
