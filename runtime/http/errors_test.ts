import assert from "node:assert/strict";
import { SpanStatusCode } from "@opentelemetry/api";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { memoryTelemetry } from "../_test_util.ts";
import { DependencyUnavailableError, PermanentError } from "../errors.ts";
import { handleErrors, logFailures, RETRY_AFTER_SECONDS, unmatched } from "./errors.ts";

function appThrowing(error: unknown) {
  const telemetry = memoryTelemetry("app3");
  const app = new Hono();
  app.post("/PostMessage", () => {
    throw error;
  });
  app.onError(handleErrors(telemetry.log));
  app.notFound(unmatched(app));
  return { app, telemetry };
}

Deno.test("handleErrors: DependencyUnavailableError is a 503 with Retry-After, logged as warn", async () => {
  const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  const { app, telemetry } = appThrowing(new DependencyUnavailableError("postgres", cause));
  const response = await app.request("/PostMessage", { method: "POST" });
  assert.equal(response.status, 503);
  assert.equal(RETRY_AFTER_SECONDS, 5);
  assert.equal(response.headers.get("retry-after"), "5");
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await response.json(), { error: "postgres is unavailable" });
  assert.equal(telemetry.records.length, 1);
  const [record] = telemetry.records;
  assert.equal(record.level, "warn");
  assert.equal(record.message, "dependency unavailable");
  assert.equal(record.dependency, "postgres");
  assert.equal(record.error_type, "ECONNREFUSED");
  assert.equal(record.route, "/PostMessage");
});

Deno.test("handleErrors: an HTTPException keeps its status and message", async () => {
  for (const [status, message] of [[400, "content must be a string"], [422, "id is not a uuid"]]) {
    const { app, telemetry } = appThrowing(
      new HTTPException(status as 400 | 422, { message: message as string }),
    );
    const response = await app.request("/PostMessage", { method: "POST" });
    assert.equal(response.status, status);
    assert.deepEqual(await response.json(), { error: message });
    assert.equal(telemetry.records.length, 0, "a caller's mistake is not logged as an error");
  }
  const { app } = appThrowing(new HTTPException(400));
  const response = await app.request("/PostMessage", { method: "POST" });
  assert.deepEqual(await response.json(), { error: "bad request" });
});

Deno.test("handleErrors: any other error is a 500 with a fixed body that hides the message", async () => {
  const secret = "duplicate key value (content)=(card 4111-1111)";
  for (const error of [new Error(secret), new PermanentError(secret)]) {
    const { app, telemetry } = appThrowing(error);
    const response = await app.request("/PostMessage", { method: "POST" });
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.equal(text, '{"error":"internal error"}');
    assert.ok(!text.includes("4111"));
    assert.equal(response.headers.get("retry-after"), null);
    const [record] = telemetry.records;
    assert.equal(record.level, "error");
    assert.equal(record.message, "unhandled error");
    assert.equal(record.route, "/PostMessage");
    assert.deepEqual(record.error, { type: (error as Error).name, message: secret });
  }
});

Deno.test("handleErrors: the active span gets the error recorded", async () => {
  const telemetry = memoryTelemetry("app1");
  const traced = new Hono();
  traced.use("*", async (_c, next) => {
    await telemetry.tracer.startActiveSpan("server", async (span) => {
      await next();
      span.end();
    });
  });
  traced.get("/x", () => {
    throw new RangeError("index out of range");
  });
  traced.onError(handleErrors(telemetry.log));
  assert.equal((await traced.request("/x")).status, 500);
  const span = telemetry.span("server");
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "RangeError");
  assert.equal(span.events[0].name, "exception");
});

Deno.test("unmatched: a JSON 404 naming the method and path that match no route", async () => {
  const { app } = appThrowing(new Error("unused"));
  const response = await app.request("/Message/abc?q=1", { method: "PUT" });
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("allow"), null);
  assert.deepEqual(await response.json(), { error: "no function for PUT /Message/abc" });
});

Deno.test("unmatched: a wrong method on a known path is a JSON 405 with Allow", async () => {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("*", (_, next) => next());
  app.route(
    "/",
    new Hono().post("/Message", (c) => c.json({})).get("/Message/:id", (c) => c.json({})),
  );
  app.notFound(unmatched(app));
  for (
    const [method, path, allow] of [
      ["GET", "/Message", "POST"],
      ["DELETE", "/Message", "POST"],
      ["POST", "/Message/8c1f", "GET, HEAD"],
      ["POST", "/healthz", "GET, HEAD"],
    ]
  ) {
    const response = await app.request(path, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow);
    assert.equal(
      (await response.json()).error,
      `${method} is not allowed on ${path}; use ${allow.replace(", ", " or ")}`,
    );
  }
  assert.equal((await app.request("/Message/a/b", { method: "POST" })).status, 404);
});

Deno.test("logFailures: a line per failed request, without bodies, at a level by status", async () => {
  const telemetry = memoryTelemetry("app3");
  const app = new Hono();
  app.use("*", logFailures(telemetry.log));
  app.post("/ok", (c) => c.json({}, 201));
  app.post("/bad", (c) => c.json({ error: "content must be a string: secret-body" }, 400));
  app.post("/conflict", (c) => c.json({ error: "exists" }, 409));
  app.post("/gateway", (c) => c.json({ error: "app3 failed" }, 502));
  app.post("/bug", () => {
    throw new RangeError("boom");
  });
  app.notFound(unmatched(app));
  app.onError(handleErrors(telemetry.log));
  for (const path of ["/ok", "/bad", "/conflict", "/gateway", "/bug", "/nope"]) {
    await (await app.request(path, { method: "POST", body: "secret-body" })).body?.cancel();
  }
  await (await app.request("/ok", { method: "GET" })).body?.cancel();
  const lines = telemetry.records.map((r) => [r.level, r.message, r.path, r.status]);
  assert.deepEqual(lines, [
    ["info", "request failed", "/bad", 400],
    ["info", "request failed", "/conflict", 409],
    ["warn", "request failed", "/gateway", 502],
    ["error", "unhandled error", undefined, undefined], // logged once, where it was handled
    ["debug", "request failed", "/nope", 404],
    ["debug", "request failed", "/ok", 405],
  ]);
  assert.ok(!JSON.stringify(telemetry.records).includes("secret-body"));
  assert.equal(telemetry.records[0].method, "POST");
  assert.equal(telemetry.records[0].route, "/bad");
  assert.equal(typeof telemetry.records[0].duration_ms, "number");
});
