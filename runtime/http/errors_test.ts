import assert from "node:assert/strict";
import { SpanStatusCode } from "@opentelemetry/api";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { memoryTelemetry } from "../_test_util.ts";
import { DependencyUnavailableError, PermanentError } from "../errors.ts";
import { handleErrors, notFound, RETRY_AFTER_SECONDS } from "./errors.ts";

function appThrowing(error: unknown) {
  const telemetry = memoryTelemetry("app3");
  const app = new Hono();
  app.post("/PostMessage", () => {
    throw error;
  });
  app.onError(handleErrors(telemetry.log));
  app.notFound(notFound);
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

Deno.test("notFound: a JSON 404 naming the method and path", async () => {
  const { app } = appThrowing(new Error("unused"));
  const response = await app.request("/Message/abc?q=1", { method: "PUT" });
  assert.equal(response.status, 404);
  assert.deepEqual(await response.json(), { error: "no function for PUT /Message/abc" });
});
