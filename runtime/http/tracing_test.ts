import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { memoryTelemetry } from "../_test_util.ts";
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
  app.use("*", traceRequests(telemetry.tracer));
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
  assert.deepEqual(span.attributes, {
    "http.request.method": "POST",
    "url.path": "/Message",
    "url.scheme": "http",
    "server.address": "localhost",
    "server.port": 8001,
    "user_agent.original": "curl/8.0",
    "faas.trigger": "http",
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
  app.use("*", traceRequests(telemetry.tracer));
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
