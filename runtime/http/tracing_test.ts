import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { memoryTelemetry, metricValue } from "../_test_util.ts";
import { handleErrors, unmatched } from "./errors.ts";
import { traceRequests } from "./tracing.ts";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

function tracedApp() {
  const telemetry = memoryTelemetry("app1");
  const functions = new Hono()
    .post("/Message", (c) => c.json({ ok: true }, 201))
    .get("/Message/:id", (c) => c.json({ id: c.req.param("id") }))
    .get("/broken", (c) => c.json({ error: "upstream said no" }, 502))
    .get("/throws", () => {
      throw new TypeError("undefined is not a function");
    })
    .get("/unavailable", () => {
      throw new HTTPException(503, { message: "try later" });
    })
    .post("/bad", () => {
      throw new HTTPException(400, { message: "content must be a string" });
    });
  const app = new Hono();
  app.use("*", traceRequests(telemetry.tracer, telemetry.metrics));
  app.route("/", functions);
  app.notFound(unmatched(app));
  app.onError(handleErrors(telemetry.log));
  return { app, telemetry };
}

Deno.test("traceRequests: a SERVER span named METHOD /route with the HTTP attributes", async () => {
  const { app, telemetry } = tracedApp();
  const response = await app.request("http://localhost:8001/Message?x=1", {
    method: "POST",
    headers: { "user-agent": "curl/8.0", "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 201);
  const span = telemetry.span("POST /Message");
  assert.equal(span.kind, SpanKind.SERVER);
  const { "faas.invocation_id": invocation, ...attributes } = span.attributes;
  assert.match(String(invocation), /^[0-9a-f-]{36}$/);
  assert.deepEqual(attributes, {
    "http.request.method": "POST",
    "url.path": "/Message",
    "url.query": "x=1",
    "url.scheme": "http",
    "server.address": "localhost",
    "server.port": 8001,
    "user_agent.original": "curl/8.0",
    "faas.trigger": "http",
    "faas.coldstart": true,
    "http.route": "/Message",
    "http.response.status_code": 201,
  });
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  assert.equal(span.parentSpanContext, undefined, "no traceparent: a root span");
});

Deno.test("traceRequests: the route template names the span, not the path", async () => {
  const { app, telemetry } = tracedApp();
  await app.request("https://app3.test/Message/8c1f", { headers: { traceparent: TRACEPARENT } });
  const span = telemetry.span("GET /Message/:id");
  assert.equal(span.attributes["http.route"], "/Message/:id");
  assert.equal(span.attributes["url.path"], "/Message/8c1f");
  assert.equal(span.attributes["url.scheme"], "https");
  assert.equal(span.attributes["server.port"], 443);
  assert.equal(span.attributes["user_agent.original"], undefined);
});

Deno.test("traceRequests: the span is a child of the caller's traceparent", async () => {
  const { app, telemetry } = tracedApp();
  await app.request("http://localhost/Message", {
    method: "POST",
    headers: { traceparent: TRACEPARENT },
  });
  const span = telemetry.span("POST /Message");
  assert.equal(span.spanContext().traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(span.parentSpanContext?.spanId, "b7ad6b7169203331");
  assert.equal(span.parentSpanContext?.isRemote, true);
});

Deno.test("traceRequests: the handler runs inside the server span (logs carry its ids)", async () => {
  const telemetry = memoryTelemetry("app1");
  const app = new Hono();
  app.use("*", traceRequests(telemetry.tracer, telemetry.metrics));
  app.get("/hello", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    telemetry.log.info("handling");
    return c.text("hi");
  });
  await app.request("http://localhost/hello");
  const span = telemetry.span("GET /hello");
  assert.equal(telemetry.records[0].span_id, span.spanContext().spanId);
  assert.equal(telemetry.records[0].trace_id, span.spanContext().traceId);
});

Deno.test("traceRequests: unmatched routes keep a method-only name and no http.route", async () => {
  const { app, telemetry } = tracedApp();
  const response = await app.request("http://localhost/nothing/here", { method: "DELETE" });
  assert.equal(response.status, 404);
  const span = telemetry.span("DELETE");
  assert.equal(span.attributes["http.route"], undefined);
  assert.equal(span.attributes["url.path"], "/nothing/here");
  assert.equal(span.attributes["http.response.status_code"], 404);
  assert.equal(span.status.code, SpanStatusCode.UNSET, "a 404 is the caller's error");
  // A known path with the wrong method does not match either: a 405, no route.
  await app.request("http://localhost/Message", { method: "GET" });
  assert.equal(telemetry.span("GET").attributes["http.response.status_code"], 405);
  assert.equal(telemetry.span("GET").attributes["http.route"], undefined);
});

Deno.test("traceRequests: a 5xx response marks the span ERROR with error.type", async () => {
  const { app, telemetry } = tracedApp();
  assert.equal((await app.request("http://localhost/broken")).status, 502);
  const span = telemetry.span("GET /broken");
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "502");
  assert.equal(span.attributes["http.response.status_code"], 502);
});

Deno.test("traceRequests: a thrown error is recorded once, with its own type", async () => {
  const { app, telemetry } = tracedApp();
  const response = await app.request("http://localhost/throws");
  assert.equal(response.status, 500);
  const span = telemetry.span("GET /throws");
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "TypeError");
  assert.equal(span.events.filter((event) => event.name === "exception").length, 1);
});

Deno.test("traceRequests: a 4xx HTTPException leaves the span unset", async () => {
  const { app, telemetry } = tracedApp();
  assert.equal((await app.request("http://localhost/bad", { method: "POST" })).status, 400);
  const span = telemetry.span("POST /bad");
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  assert.equal(span.attributes["error.type"], undefined);
  assert.equal(span.attributes["http.response.status_code"], 400);
});

Deno.test({
  name: "traceRequests: a 5xx HTTPException gets error.type like any 5xx",
  fn: async () => {
    const { app, telemetry } = tracedApp();
    assert.equal((await app.request("http://localhost/unavailable")).status, 503);
    const span = telemetry.span("GET /unavailable");
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.attributes["error.type"], "503");
  },
});

Deno.test("traceRequests: the peer from Deno's connection info, the client behind proxies", async () => {
  const { app, telemetry } = tracedApp();
  const info = { remoteAddr: { transport: "tcp", hostname: "10.0.0.7", port: 51234 } };
  await app.request("http://localhost/Message", { method: "POST" }, info);
  await app.request("http://localhost/Message", {
    method: "POST",
    headers: { "x-forwarded-for": "203.0.113.9, 10.0.0.1" },
  }, info);
  const [direct, proxied] = telemetry.spans();
  assert.equal(direct.attributes["client.address"], "10.0.0.7");
  assert.equal(direct.attributes["network.peer.address"], "10.0.0.7");
  assert.equal(direct.attributes["network.peer.port"], 51234);
  assert.equal(proxied.attributes["client.address"], "203.0.113.9");
  assert.equal(proxied.attributes["network.peer.address"], "10.0.0.7");
  assert.equal(direct.attributes["faas.coldstart"], true, "the first request of a function");
  assert.equal(proxied.attributes["faas.coldstart"], false);
  assert.notEqual(
    direct.attributes["faas.invocation_id"],
    proxied.attributes["faas.invocation_id"],
  );
});

Deno.test("traceRequests: signed query values are redacted; unknown methods are _OTHER", async () => {
  const { app, telemetry } = tracedApp();
  await app.request("http://localhost/Message/1?Signature=abc&sig=d&keep=1");
  assert.equal(
    telemetry.span("GET /Message/:id").attributes["url.query"],
    "Signature=REDACTED&sig=REDACTED&keep=1",
  );
  await app.request("http://localhost/Message/1", { method: "PURGE" });
  const other = telemetry.span("HTTP");
  assert.equal(other.attributes["http.request.method"], "_OTHER");
  assert.equal(other.attributes["http.request.method_original"], "PURGE");
});

Deno.test("traceRequests: http_server_request_duration_seconds per route and status, span as exemplar", async () => {
  const { app, telemetry } = tracedApp();
  await app.request("http://localhost/Message", { method: "POST" });
  await app.request("http://localhost/broken");
  await app.request("http://localhost/nothing");
  const registry = telemetry.metrics.registry;
  const name = "http_server_request_duration_seconds_count";
  assert.equal(
    await metricValue(registry, name, {
      http_request_method: "POST",
      url_scheme: "http",
      http_route: "/Message",
      http_response_status_code: "201",
    }),
    1,
  );
  assert.equal(
    await metricValue(registry, name, { http_route: "/broken", error_type: "502" }),
    1,
  );
  const [family] = (await registry.getMetricsAsJSON()).filter((f) =>
    f.name === "http_server_request_duration_seconds"
  );
  const unmatched = family.values.filter((v) =>
    v.labels.http_response_status_code === 404 && (v as { metricName?: string }).metricName === name
  );
  assert.equal(unmatched.length, 1);
  assert.equal(unmatched[0].labels.http_route, undefined, "no route for what matched nothing");
  const span = telemetry.span("POST /Message");
  const exemplars = family.values.flatMap((v) => {
    const exemplar = (v as { exemplar?: { labelSet: Record<string, string> } | null }).exemplar;
    return exemplar ? [exemplar.labelSet] : [];
  });
  assert.ok(
    exemplars.some((e) =>
      e.trace_id === span.spanContext().traceId && e.span_id === span.spanContext().spanId
    ),
    JSON.stringify(exemplars),
  );
});
