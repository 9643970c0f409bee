/**
 * `fetch` with a CLIENT span per request and W3C trace context in the request headers, so the
 * called function's SERVER span joins the caller's trace; each request's duration goes to
 * `http_client_request_duration_seconds` with the span as exemplar. Redirects are never followed:
 * a callee answering 3xx could otherwise steer the call, its body and its baggage to another
 * host; the caller gets the 3xx itself (or a TypeError with `redirect: "error"`).
 *
 * Deno's fetch speaks HTTP/1.1 over cleartext (HTTP/2 only where TLS negotiates it), so
 * `network.protocol.version` is `1.1` for `http:` URLs and left out for `https:` ones.
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
import { context, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { errorType } from "../errors.ts";
import { type Metrics, observe } from "../telemetry/metrics.ts";
import { injectContext } from "../telemetry/propagation.ts";
import { withSpan } from "../telemetry/span.ts";
import { redactQuery } from "./tracing.ts";

/** Creates a traced `fetch` recording spans on `tracer` and durations in `metrics`. */
export function createTracedFetch(tracer: Tracer, metrics: Metrics): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    const protocolVersion = url.protocol === "http:" ? "1.1" : undefined;
    const started = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    return withSpan(tracer, request.method, SpanKind.CLIENT, {
      "http.request.method": request.method,
      // No credentials (the origin has none) and no signature values.
      "url.full": `${url.origin}${url.pathname}${
        url.search ? `?${redactQuery(url.search.slice(1))}` : ""
      }`,
      "server.address": url.hostname,
      "server.port": port,
      "network.protocol.version": protocolVersion,
    }, async (span) => {
      try {
        const headers = new Headers(request.headers);
        injectContext(context.active(), headers);
        const redirect = init?.redirect === "error" ? "error" : "manual";
        const response = await fetch(new Request(request, { headers, redirect }));
        status = response.status;
        span.setAttribute("http.response.status_code", response.status);
        if (response.status >= 400) {
          error = String(response.status);
          span.setAttribute("error.type", error);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return response;
      } catch (thrown) {
        error = errorType(thrown);
        throw thrown;
      } finally {
        observe(
          metrics.httpClientDuration,
          {
            http_request_method: request.method,
            server_address: url.hostname,
            server_port: port,
            http_response_status_code: status,
            network_protocol_version: protocolVersion,
            error_type: error,
          },
          (performance.now() - started) / 1000,
          span,
        );
      }
    });
  };
}
