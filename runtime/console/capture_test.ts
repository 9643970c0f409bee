import assert from "node:assert/strict";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { consoleSpanProcessor, logEntry, samplePoints } from "./capture.ts";
import { ConsoleStore } from "./store.ts";

Deno.test("ended SDK spans become span records in the store, parent, status and events kept", () => {
  const store = new ConsoleStore();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "app1" }),
    spanProcessors: [consoleSpanProcessor(store)],
  });
  const tracer = provider.getTracer("runtime", "1.0.0");
  const parent = tracer.startSpan("POST /Message", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const child = tracer.startSpan(
    "INSERT messages",
    { kind: SpanKind.CLIENT, attributes: { "db.system.name": "postgresql" } },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.recordException(new Error("duplicate key"));
  child.setStatus({ code: SpanStatusCode.ERROR, message: "duplicate key" });
  child.end();
  parent.end();
  const detail = store.trace(parent.spanContext().traceId)!;
  const server = detail.spans.find((s) => s.kind === "server")!;
  const client = detail.spans.find((s) => s.kind === "client")!;
  assert.equal(server.parentSpanId, undefined);
  assert.equal(server.service, "app1");
  assert.equal(server.resource["service.name"], "app1");
  assert.deepEqual(server.scope, { name: "runtime", version: "1.0.0", schemaUrl: undefined });
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.status, "error");
  assert.equal(client.statusMessage, "duplicate key");
  assert.equal(client.events[0].name, "exception");
  assert.equal(client.attributes["db.system.name"], "postgresql");
  assert.ok(server.start <= client.start && client.durationMs >= 0);
  assert.ok(Math.abs(server.start - Date.now()) < 5000);
  // Epoch milliseconds as doubles step by 244 ns: the union is the span's length within that.
  assert.ok(Math.abs(detail.summary.postgresqlMs - client.durationMs) < 0.001);
});

Deno.test("a logger record becomes a log record; object fields become JSON text", () => {
  const entry = logEntry({
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    service: "app4",
    message: "cache write failed",
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    span_id: "00f067aa0ba902b7",
    message_id: "m-1",
    attempt: 2,
    error: { type: "TimeoutError", message: "slow" },
  });
  assert.deepEqual(entry, {
    time: Date.parse("2026-01-02T03:04:05.678Z"),
    service: "app4",
    severity: "warn",
    body: "cache write failed",
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    attributes: {
      message_id: "m-1",
      attempt: 2,
      error: '{"type":"TimeoutError","message":"slow"}',
    },
  });
});

Deno.test("a registry sample: counters and gauges as values, histograms as count, sum, buckets", async () => {
  const registry = new Registry();
  const registers = [registry];
  new Counter({ name: "c_total", help: "c", labelNames: ["topic"], registers }).inc(
    { topic: "P" },
    3,
  );
  new Gauge({ name: "g", help: "g", registers }).set(7);
  const h = new Histogram({ name: "h_seconds", help: "h", buckets: [0.1, 1], registers });
  h.observe(0.05);
  h.observe(0.5);
  const points = await samplePoints("app2", registry, 1000);
  const byName = Object.fromEntries(points.map((p) => [p.name, p]));
  assert.deepEqual(byName.c_total, {
    time: 1000,
    service: "app2",
    name: "c_total",
    kind: "counter",
    labels: { topic: "P" },
    value: 3,
  });
  assert.equal(byName.g.value, 7);
  assert.equal(byName.h_seconds.kind, "histogram");
  assert.equal(byName.h_seconds.count, 2);
  assert.ok(Math.abs(byName.h_seconds.sum! - 0.55) < 1e-9);
  assert.deepEqual(byName.h_seconds.buckets, [{ le: 0.1, count: 1 }, { le: 1, count: 2 }]);
});
