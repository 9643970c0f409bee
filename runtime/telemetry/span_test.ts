import assert from "node:assert/strict";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { memoryTracer } from "../_test_util.ts";
import { recordError, withSpan } from "./span.ts";

Deno.test("withSpan: runs the call in an active span of the kind, with the attributes", async () => {
  const { tracer, span } = memoryTracer();
  let active: string | undefined;
  const result = await withSpan(tracer, "SELECT messages", SpanKind.CLIENT, {
    "db.system.name": "postgresql",
    "server.port": 5432,
  }, (current) => {
    active = trace.getActiveSpan()?.spanContext().spanId;
    assert.equal(active, current.spanContext().spanId);
    return Promise.resolve([1, 2]);
  });
  assert.deepEqual(result, [1, 2]);
  const recorded = span("SELECT messages");
  assert.equal(recorded.kind, SpanKind.CLIENT);
  assert.equal(recorded.spanContext().spanId, active);
  assert.deepEqual(recorded.attributes, { "db.system.name": "postgresql", "server.port": 5432 });
  assert.equal(recorded.status.code, SpanStatusCode.UNSET);
  assert.equal(recorded.ended, true);
  assert.equal(trace.getActiveSpan(), undefined, "the span is not active after the call");
});

Deno.test("withSpan: the span is a child of the active span; nested calls nest", async () => {
  const { tracer, span } = memoryTracer();
  await tracer.startActiveSpan("POST /Message", async (server) => {
    await withSpan(tracer, "POST", SpanKind.CLIENT, {}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await withSpan(tracer, "inner", SpanKind.INTERNAL, {}, () => Promise.resolve());
    });
    server.end();
  });
  const server = span("POST /Message");
  const client = span("POST");
  const inner = span("inner");
  assert.equal(client.parentSpanContext?.spanId, server.spanContext().spanId);
  assert.equal(inner.parentSpanContext?.spanId, client.spanContext().spanId);
  assert.equal(inner.spanContext().traceId, server.spanContext().traceId);
});

Deno.test("withSpan: a failing call is recorded (ERROR, error.type, exception) and rethrown", async () => {
  const { tracer, span } = memoryTracer();
  const failure = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
    code: "ECONNREFUSED",
  });
  await assert.rejects(
    withSpan(tracer, "INSERT messages", SpanKind.CLIENT, {}, () => Promise.reject(failure)),
    (error) => error === failure,
  );
  const recorded = span("INSERT messages");
  assert.equal(recorded.ended, true);
  assert.equal(recorded.status.code, SpanStatusCode.ERROR);
  assert.equal(recorded.status.message, "connect ECONNREFUSED 127.0.0.1:5432");
  assert.equal(recorded.attributes["error.type"], "ECONNREFUSED");
  assert.equal(recorded.events.length, 1);
  const [event] = recorded.events;
  assert.equal(event.name, "exception");
  assert.equal(event.attributes?.["exception.type"], "ECONNREFUSED");
  assert.equal(event.attributes?.["exception.message"], "connect ECONNREFUSED 127.0.0.1:5432");
  assert.ok(String(event.attributes?.["exception.stacktrace"]).includes("span_test.ts"));
});

Deno.test("withSpan: a synchronous throw is recorded too", async () => {
  const { tracer, span } = memoryTracer();
  await assert.rejects(
    withSpan(tracer, "GET", SpanKind.CLIENT, {}, () => {
      throw new TypeError("bad url");
    }),
    TypeError,
  );
  assert.equal(span("GET").status.code, SpanStatusCode.ERROR);
  assert.equal(span("GET").attributes["error.type"], "TypeError");
  assert.equal(span("GET").ended, true);
});

Deno.test("recordError: a non-Error is described by its type", () => {
  const { tracer, span } = memoryTracer();
  const current = tracer.startSpan("op");
  recordError(current, "plain string failure");
  current.end();
  const recorded = span("op");
  assert.equal(recorded.status.code, SpanStatusCode.ERROR);
  assert.equal(recorded.status.message, undefined);
  assert.equal(recorded.attributes["error.type"], "string");
  assert.equal(recorded.events[0].attributes?.["exception.message"], "plain string failure");
});

Deno.test("withSpan: the caller's context is restored after the call", async () => {
  const { tracer } = memoryTracer();
  const outer = tracer.startSpan("outer");
  await context.with(trace.setSpan(context.active(), outer), async () => {
    await withSpan(tracer, "inner", SpanKind.CLIENT, {}, () => Promise.resolve());
    assert.equal(trace.getActiveSpan(), outer);
  });
  outer.end();
});
