/**
 * Hono middleware that makes each request a SERVER span named `METHOD /route`, child of the
 * caller's W3C trace context, with the HTTP and FaaS semantic-convention attributes, and records
 * its duration in `http_server_request_duration_seconds` with the span as exemplar.
 *
 * The peer is read from `c.env.remoteAddr` (the host passes Deno's `ServeHandlerInfo` as Hono's
 * env). `network.protocol.version` is not set: Deno.serve answers HTTP/1.x and cleartext HTTP/2
 * on the same port and does not tell the handler which one a request used, and the conventions
 * say to leave it out when it is not known.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "../telemetry/metrics.ts";
 * import { traceRequests } from "./tracing.ts";
 * const app = new Hono().use("*", traceRequests(trace.getTracer("app1"), createMetrics()));
 * app.post("/Message", (c) => c.json({ ok: true }));
 * ```
 * @module
 */
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { errorType } from "../errors.ts";
import { type Metrics, observe } from "../telemetry/metrics.ts";
import { extractContext } from "../telemetry/propagation.ts";
import { isColdStart } from "../telemetry/span.ts";

/** The route Hono reports for a request that matched no function. */
const UNMATCHED = "/*";

/** Methods the conventions know; any other is reported as `_OTHER`. */
const KNOWN_METHODS = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE",
]);

/** Query parameters whose values the conventions say to redact from `url.query`. */
const SENSITIVE_QUERY = /^(AWSAccessKeyId|Signature|sig|X-Goog-Signature)$/;

/** What Deno.serve hands a handler, passed on as Hono's `env`. */
interface ConnectionInfo {
  readonly remoteAddr?: { readonly hostname?: string; readonly port?: number };
}

/** Traces and measures every request that reaches it. */
export function traceRequests(tracer: Tracer, metrics: Metrics): MiddlewareHandler {
  const seen = new Set<string>();
  return async (c, next) => {
    const started = performance.now();
    const request = c.req.raw;
    const url = new URL(request.url);
    const parent = extractContext(request.headers);
    const method = KNOWN_METHODS.has(request.method) ? request.method : "_OTHER";
    const scheme = url.protocol.slice(0, -1);
    const peer = (c.env as ConnectionInfo | undefined)?.remoteAddr;
    const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    const span = tracer.startSpan(method === "_OTHER" ? "HTTP" : method, {
      kind: SpanKind.SERVER,
    }, parent);
    // Set on the started span rather than passed to startSpan, which copies and checks them
    // once more (no sampler configured from OTEL_TRACES_SAMPLER reads them); built only for a
    // span that records.
    if (span.isRecording()) {
      span.setAttributes({
        "http.request.method": method,
        "http.request.method_original": method === "_OTHER" ? request.method : undefined,
        "url.path": url.pathname,
        "url.query": url.search ? redactQuery(url.search.slice(1)) : undefined,
        "url.scheme": scheme,
        "server.address": url.hostname,
        "server.port": Number(url.port) || (url.protocol === "https:" ? 443 : 80),
        "client.address": forwarded || peer?.hostname,
        "network.peer.address": peer?.hostname,
        "network.peer.port": peer?.port,
        "user_agent.original": request.headers.get("user-agent") ?? undefined,
        "faas.trigger": "http",
        "faas.invocation_id": crypto.randomUUID(),
      });
    }
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = c.req.routePath;
      const matched = route !== UNMATCHED;
      if (matched) {
        span.updateName(`${method === "_OTHER" ? "HTTP" : method} ${route}`);
        span.setAttribute("http.route", route);
        span.setAttribute("faas.coldstart", isColdStart(seen, `${request.method} ${route}`));
      }
      const status = c.res.status;
      span.setAttribute("http.response.status_code", status);
      let error: string | undefined;
      if (status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        // Exceptions of the function keep their type; a status it chose is its own type.
        error = c.error === undefined || c.error instanceof HTTPException
          ? String(status)
          : errorType(c.error);
        span.setAttribute("error.type", error);
      }
      span.end();
      observe(
        metrics.httpServerDuration,
        {
          http_request_method: method,
          url_scheme: scheme,
          http_route: matched ? route : undefined,
          http_response_status_code: status,
          error_type: error,
        },
        (performance.now() - started) / 1000,
        span,
      );
    }
  };
}

/** `query` (without `?`) with the values of signature-like parameters replaced by `REDACTED`. */
export function redactQuery(query: string): string {
  return query.split("&").map((pair) => {
    const [name] = pair.split("=", 1);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // A malformed escape is kept as sent.
    }
    return SENSITIVE_QUERY.test(decoded) ? `${name}=REDACTED` : pair;
  }).join("&");
}
