import assert from "node:assert/strict";
import { kafkaFlow, span } from "./_fixtures.ts";
import { findRoot, servicesOf, summarizeTrace, traceListItem, unionMs } from "./summary.ts";

Deno.test("unionMs counts overlapping intervals once and ignores empty ones", () => {
  assert.equal(unionMs([]), 0);
  assert.equal(unionMs([[0, 10], [5, 15], [20, 25], [30, 30], [40, 35]]), 20);
  assert.equal(unionMs([[20, 25], [0, 10], [1, 2]]), 15);
});

Deno.test("the Kafka flow's summary: send, wait from send's end to process start, process", () => {
  const summary = summarizeTrace(kafkaFlow());
  assert.equal(summary.durationMs, 40);
  assert.equal(summary.kafka.sendMs, 3 + 5);
  // Purchase: send ends at 6, process starts at 10; Purchase2: 18 to 24.
  assert.equal(summary.kafka.waitMs, 4 + 6);
  // Process spans [10,25] and [24,35] overlap: their union is 25 ms.
  assert.equal(summary.kafka.processMs, 25);
  assert.equal(summary.redisMs, 2);
  assert.equal(summary.postgresqlMs, 0);
  assert.equal(summary.httpMs, 8 + 9);
  assert.equal(summary.spanCount, 10);
  assert.deepEqual(summary.services, ["executor", "app1", "app2", "app3", "app4"]);
  assert.equal(summary.errors, 0);
});

Deno.test("wait is found through a link when the consumer span is not the producer's child", () => {
  const producer = span({ kind: "producer", start: 0, end: 2 });
  const consumer = span({
    kind: "consumer",
    start: 7,
    end: 9,
    links: [{ traceId: producer.traceId, spanId: producer.spanId, attributes: {} }],
  });
  assert.equal(summarizeTrace([consumer, producer]).kafka.waitMs, 5);
});

Deno.test("overlapping database calls count once; errors are counted", () => {
  const summary = summarizeTrace([
    span({ kind: "client", start: 0, end: 10, attributes: { "db.system.name": "postgresql" } }),
    span({ kind: "client", start: 5, end: 12, attributes: { "db.system": "postgresql" } }),
    span({ kind: "server", start: 0, end: 20, status: "error" }),
  ]);
  assert.equal(summary.postgresqlMs, 12);
  assert.equal(summary.errors, 1);
  assert.equal(summary.httpMs, 0);
});

Deno.test("the list row of a trace whose root has not arrived yet, then has", () => {
  const flow = kafkaFlow();
  const [root, ...rest] = flow;
  const partial = traceListItem(root.traceId, rest.slice(3));
  // Without the cron span, the earliest span whose parent is missing stands in for the root.
  assert.equal(partial.rootName, "process Purchase");
  assert.equal(partial.rootService, "app2");
  const whole = traceListItem(root.traceId, [...rest.reverse(), root]);
  assert.equal(whole.rootName, "executor");
  assert.equal(whole.rootService, "executor");
  assert.equal(whole.spanCount, 10);
  assert.equal(whole.durationMs, 40);
  assert.deepEqual(whole.services, ["executor", "app1", "app2", "app3", "app4"]);
  assert.equal(whole.error, false);
  assert.equal(findRoot([]), undefined);
});

Deno.test("servicesOf: in the order the trace reached them, whatever the clocks say", () => {
  const at = (spanId: string, service: string, start: number, parentSpanId?: string) =>
    span({ spanId, service, start, parentSpanId });
  // app3's span, a child of app1's, timed by a clock a millisecond behind app1's.
  const spans = [
    at("root", "executor", 100),
    at("call", "executor", 101, "root"),
    at("app1", "app1", 102.4, "call"),
    at("app3", "app3", 101.9, "app1"),
    at("orphan", "app9", 99, "absent"),
    at("loop-a", "app7", 50, "loop-b"),
    at("loop-b", "app8", 51, "loop-a"),
  ];
  assert.deepEqual(servicesOf(spans), ["app9", "executor", "app1", "app3", "app7", "app8"]);
});
