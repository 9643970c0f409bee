import assert from "node:assert/strict";
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { memoryTracer } from "../_test_util.ts";
import { extractContext, injectContext } from "./propagation.ts";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

Deno.test("injectContext: writes the active span's traceparent into Headers", () => {
  const { tracer } = memoryTracer();
  const span = tracer.startSpan("send");
  const headers = new Headers({ "content-type": "application/json" });
  injectContext(trace.setSpan(ROOT_CONTEXT, span), headers);
  span.end();
  const { traceId, spanId } = span.spanContext();
  assert.equal(headers.get("traceparent"), `00-${traceId}-${spanId}-01`);
  assert.equal(headers.get("content-type"), "application/json");
  assert.equal(headers.has("baggage"), false, "no baggage without entries");
});

Deno.test("injectContext: nothing is written for a context without a span", () => {
  const carrier: Record<string, string> = {};
  injectContext(ROOT_CONTEXT, carrier);
  assert.deepEqual(carrier, {});
});

Deno.test("injectContext/extractContext: round trip through a plain record keeps ids, flags, state", () => {
  const remote = extractContext({ traceparent: TRACEPARENT, tracestate: "vendor=abc,other=1" });
  const spanContext = trace.getSpanContext(remote);
  assert.ok(spanContext);
  assert.equal(spanContext.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(spanContext.spanId, "b7ad6b7169203331");
  assert.equal(spanContext.traceFlags, TraceFlags.SAMPLED);
  assert.equal(spanContext.isRemote, true);
  assert.equal(spanContext.traceState?.get("vendor"), "abc");

  const carrier: Record<string, string> = {};
  injectContext(remote, carrier);
  assert.equal(carrier.traceparent, TRACEPARENT);
  assert.equal(carrier.tracestate, "vendor=abc,other=1");
});

Deno.test("extractContext: Kafka headers as bytes (Uint8Array) are decoded", () => {
  const bytes = new TextEncoder();
  const remote = extractContext({
    traceparent: bytes.encode(TRACEPARENT),
    baggage: bytes.encode("tenant=acme"),
    other: undefined,
  });
  assert.equal(trace.getSpanContext(remote)?.spanId, "b7ad6b7169203331");
  assert.equal(propagation.getBaggage(remote)?.getEntry("tenant")?.value, "acme");
});

Deno.test("extractContext: Headers carriers are read case-insensitively", () => {
  const remote = extractContext(new Headers({ TraceParent: TRACEPARENT }));
  assert.equal(trace.getSpanContext(remote)?.traceId, "0af7651916cd43dd8448eb211c80319c");
});

Deno.test("extractContext: no or malformed context yields the root context", () => {
  assert.equal(trace.getSpanContext(extractContext({})), undefined);
  assert.equal(trace.getSpanContext(extractContext(new Headers())), undefined);
  for (const bad of ["garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", "00-zz"]) {
    assert.equal(trace.getSpanContext(extractContext({ traceparent: bad })), undefined, bad);
  }
  assert.equal(
    trace.getSpanContext(
      extractContext({ traceparent: "00-00000000000000000000000000000000-b7ad6b7169203331-01" }),
    ),
    undefined,
    "an all-zero trace id is invalid",
  );
});

Deno.test("injectContext/extractContext: baggage travels with the trace context", () => {
  const { tracer } = memoryTracer();
  const span = tracer.startSpan("call");
  const baggage = propagation.createBaggage({
    "tenant.id": { value: "acme" },
    "user": { value: "a b" },
  });
  const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), baggage);
  span.end();
  for (const carrier of [new Headers(), {} as Record<string, string>]) {
    injectContext(ctx, carrier);
    const raw = carrier instanceof Headers ? carrier.get("baggage") : carrier.baggage;
    assert.ok(raw?.includes("tenant.id=acme"), String(raw));
    const extracted = extractContext(carrier);
    const entries = propagation.getBaggage(extracted)?.getAllEntries() ?? [];
    assert.deepEqual(
      Object.fromEntries(entries.map(([key, entry]) => [key, entry.value])),
      { "tenant.id": "acme", "user": "a b" },
    );
    assert.equal(trace.getSpanContext(extracted)?.spanId, span.spanContext().spanId);
  }
});

Deno.test("injectContext: a child started from an extracted context joins the remote trace", () => {
  const { tracer, span: finished } = memoryTracer();
  const parent = extractContext({ traceparent: TRACEPARENT });
  const child = tracer.startSpan("process", {}, parent);
  child.end();
  const recorded = finished("process");
  assert.equal(recorded.spanContext().traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(recorded.parentSpanContext?.spanId, "b7ad6b7169203331");
  // And the context active at the call site is not changed by extraction.
  assert.equal(trace.getSpan(context.active()), undefined);
});
