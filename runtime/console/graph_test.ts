import assert from "node:assert/strict";
import { kafkaFlow, span } from "./_fixtures.ts";
import { buildGraph } from "./graph.ts";

Deno.test("the Kafka flow draws services, topics and redis with their edges", () => {
  const graph = buildGraph([kafkaFlow(), kafkaFlow()]);
  const edges = graph.edges.map((edge) => `${edge.source}->${edge.target}:${edge.calls}`).sort();
  assert.deepEqual(edges, [
    "Purchase->app2:2",
    "Purchase2->app4:2",
    "app1->Purchase:2",
    "app2->app3:2",
    "app3->Purchase2:2",
    "app4->redis:2",
    "executor->app1:2",
  ]);
  const types = Object.fromEntries(graph.nodes.map((node) => [node.id, node.type]));
  assert.deepEqual(types, {
    executor: "service",
    app1: "service",
    app2: "service",
    app3: "service",
    app4: "service",
    Purchase: "topic",
    Purchase2: "topic",
    redis: "cache",
  });
});

Deno.test("edges count errors and report the p95 of the calls' durations", () => {
  const traces = Array.from({ length: 20 }, (_, i) => {
    const trace = "b".repeat(31) + (i % 16).toString(16);
    const client = span({
      traceId: trace,
      service: "app1",
      kind: "client",
      start: 0,
      end: i + 1,
      status: i < 3 ? "error" : "unset",
    });
    const server = span({
      traceId: trace,
      service: "app3",
      kind: "server",
      parentSpanId: client.spanId,
      start: 0,
      end: 1,
    });
    const db = span({
      traceId: trace,
      service: "app3",
      kind: "client",
      parentSpanId: server.spanId,
      attributes: { "db.system.name": "postgresql" },
    });
    return [client, server, db];
  });
  const graph = buildGraph(traces);
  const call = graph.edges.find((edge) => edge.source === "app1" && edge.target === "app3")!;
  assert.equal(call.calls, 20);
  assert.equal(call.errors, 3);
  assert.equal(call.p95Ms, 19);
  const db = graph.edges.find((edge) => edge.target === "postgresql")!;
  assert.equal(db.source, "app3");
  assert.equal(graph.nodes.find((node) => node.id === "postgresql")?.type, "database");
});

Deno.test("a CLIENT span without an instrumented callee and a same-service hop draw no edge", () => {
  const client = span({ service: "app1", kind: "client" });
  const local = span({ service: "app1", kind: "server", parentSpanId: client.spanId });
  const orphan = span({
    service: "app1",
    kind: "client",
    attributes: { "http.request.method": "GET" },
  });
  assert.deepEqual(buildGraph([[client, local, orphan]]).edges, []);
});
