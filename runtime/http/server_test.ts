import assert from "node:assert/strict";
import { Hono } from "hono";
import { memoryTelemetry } from "../_test_util.ts";
import { DependencyUnavailableError } from "../errors.ts";
import { type Check, Readiness } from "../health.ts";
import { createServiceApp, MAX_HEADER_BYTES } from "./server.ts";

function serviceApp(
  checks: Record<string, Check> = {},
  maxBodyBytes = 256,
  processMetrics = false,
) {
  const telemetry = memoryTelemetry("app1");
  const readiness = new Readiness(checks, telemetry.metrics, 200);
  const functions = new Hono()
    .post("/Message", async (c) => {
      const body = await c.req.json();
      return c.json({ received: body.content }, 201);
    })
    .get("/Message/:id", (c) => c.json({ id: c.req.param("id") }))
    .get("/down", () => {
      throw new DependencyUnavailableError("redis");
    });
  telemetry.metrics.targetInfo.set({ service_name: "app1" }, 1);
  const app = createServiceApp({ telemetry, readiness, functions, maxBodyBytes, processMetrics });
  return { app, telemetry, readiness };
}

Deno.test("createServiceApp: /healthz answers 200 and is not traced", async () => {
  const { app, telemetry } = serviceApp();
  const response = await app.request("/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
  assert.equal(telemetry.spans().length, 0);
});

Deno.test("createServiceApp: /readyz is 200 when ready, 503 with the report when not", async () => {
  let redisUp = true;
  const { app, readiness, telemetry } = serviceApp({
    postgres: () => Promise.resolve(),
    redis: () => redisUp ? Promise.resolve() : Promise.reject(new Error("refused")),
  });
  let response = await app.request("/readyz");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    ready: true,
    status: "ready",
    checks: { postgres: "up", redis: "up" },
  });
  redisUp = false;
  response = await app.request("/readyz");
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), {
    ready: false,
    status: "unavailable",
    checks: { postgres: "up", redis: "down: Error" },
  });
  redisUp = true;
  readiness.stop();
  response = await app.request("/readyz");
  assert.equal(response.status, 503);
  assert.equal((await response.json()).status, "stopping");
  assert.equal(telemetry.spans().length, 0);
});

Deno.test("createServiceApp: /metrics is Prometheus text with the HTTP histogram after a request", async () => {
  const { app } = serviceApp();
  const before = await (await app.request("/metrics")).text();
  assert.ok(!before.includes("http_server_request_duration_seconds"), "no family before a request");
  const posted = await app.request("/Message", {
    method: "POST",
    body: JSON.stringify({ content: "hi" }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(posted.status, 201);
  assert.deepEqual(await posted.json(), { received: "hi" });
  const response = await app.request("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  assert.ok(text.includes("# TYPE http_server_request_duration_seconds histogram"), text);
  assert.match(
    text,
    /^http_server_request_duration_seconds_count\{http_request_method="POST",url_scheme="http",http_route="\/Message",http_response_status_code="201"\} 1$/m,
  );
  assert.doesNotMatch(text, / # \{trace_id=/, "no exemplars in the classic format");
  assert.doesNotMatch(text, /^process_|^v8js_/m, "process metrics only where the host puts them");
  assert.doesNotMatch(text, /messaging_|faas_|db_client/, "only the families this service records");
  assert.ok(!text.includes('http_route="/metrics"'), "scrapes are not counted as requests");
  assert.match(text, /^target_info\{service_name="app1"\} 1$/m);
});

Deno.test("createServiceApp: /metrics answers OpenMetrics with exemplars when asked for it", async () => {
  const { app, telemetry } = serviceApp({}, 256, true);
  await app.request("/Message", { method: "POST", body: JSON.stringify({ content: "hi" }) });
  const span = telemetry.span("POST /Message").spanContext();
  const response = await app.request("/metrics", {
    headers: {
      // What Prometheus 2.42 sends.
      accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" +
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    },
  });
  assert.equal(
    response.headers.get("content-type"),
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
  );
  const text = await response.text();
  assert.match(text, /# EOF\n$/);
  assert.match(text, /^# UNIT http_server_request_duration_seconds seconds$/m);
  assert.match(
    text,
    new RegExp(
      `^http_server_request_duration_seconds_bucket\\{[^}]*le="[0-9.]+"\\} 1 # \\{trace_id="${span.traceId}",span_id="${span.spanId}"\\} [0-9.e-]+ [0-9.]+$`,
      "m",
    ),
  );
  assert.match(text, /^# TYPE target_info gauge$/m);
  assert.match(text, /^process_memory_usage_bytes \d+$/m, "this app serves the process metrics");
  const classic = await (await app.request("/metrics", { headers: { accept: "text/plain" } }))
    .text();
  assert.doesNotMatch(classic, /# EOF|# UNIT| # \{/);
});

Deno.test("createServiceApp: functions are traced and errors mapped", async () => {
  const { app, telemetry } = serviceApp();
  const found = await app.request("http://localhost:8001/Message/42");
  assert.deepEqual(await found.json(), { id: "42" });
  assert.equal(telemetry.span("GET /Message/:id").attributes["http.response.status_code"], 200);
  const down = await app.request("/down");
  assert.equal(down.status, 503);
  assert.equal(down.headers.get("retry-after"), "5");
  assert.deepEqual(await down.json(), { error: "redis is unavailable" });
  const missing = await app.request("/nope", { method: "POST" });
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "no function for POST /nope" });
  assert.ok(telemetry.span("POST"));
});

Deno.test("createServiceApp: a body over the limit is a JSON 413 (Content-Length)", async () => {
  const { app } = serviceApp({}, 256);
  const body = JSON.stringify({ content: "x".repeat(300) });
  const response = await app.request("/Message", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "content-length": String(body.length) },
  });
  assert.equal(response.status, 413);
  assert.deepEqual(await response.json(), { error: "request body exceeds 256 bytes" });
  const small = await app.request("/Message", {
    method: "POST",
    body: JSON.stringify({ content: "ok" }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(small.status, 201);
});

Deno.test("createServiceApp: a streamed body over the limit is a JSON 413 too", async () => {
  const { app } = serviceApp({}, 256);
  const chunk = new TextEncoder().encode(JSON.stringify({ content: "y".repeat(200) }));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(chunk);
      controller.enqueue(chunk);
      controller.close();
    },
  });
  const response = await app.request("/Message", {
    method: "POST",
    body: stream,
    headers: { "content-type": "application/json" },
  });
  assert.equal(response.status, 413);
  assert.deepEqual(await response.json(), { error: "request body exceeds 256 bytes" });
});

Deno.test("createServiceApp: headers over the limit are a JSON 431 everywhere, operational endpoints too", async () => {
  const { app } = serviceApp();
  const headers = { "x-padding": "a".repeat(MAX_HEADER_BYTES) };
  for (
    const [method, path] of [
      ["GET", "/healthz"],
      ["GET", "/readyz"],
      ["GET", "/metrics"],
      ["GET", "/Message/1"],
      ["POST", "/Message"],
    ]
  ) {
    const response = await app.request(path, {
      method,
      headers,
      body: method === "POST" ? "{}" : undefined,
    });
    assert.equal(response.status, 431, `${method} ${path}`);
    assert.deepEqual(await response.json(), {
      error: `request headers exceed ${MAX_HEADER_BYTES} bytes`,
    });
  }
});

Deno.test("createServiceApp: a wrong method is a JSON 405 with Allow, logged at debug", async () => {
  const { app, telemetry } = serviceApp();
  for (
    const [method, path, allow] of [
      ["POST", "/healthz", "GET, HEAD"],
      ["DELETE", "/metrics", "GET, HEAD"],
      ["GET", "/Message", "POST"],
      ["PUT", "/Message/1", "GET, HEAD"],
    ]
  ) {
    const response = await app.request(path, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow);
    assert.match((await response.json()).error, /is not allowed/);
  }
  assert.equal((await app.request("/nothing")).status, 404);
  const logged = telemetry.records.filter((r) => r.message === "request failed");
  assert.deepEqual(logged.map((r) => [r.level, r.status]), [
    ["debug", 405],
    ["debug", 405],
    ["debug", 405],
    ["debug", 405],
    ["debug", 404],
  ]);
});
