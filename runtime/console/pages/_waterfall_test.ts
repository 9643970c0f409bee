import assert from "node:assert/strict";
import type { SpanRecord } from "../model.ts";
import { FixtureReader, FLOW_TRACES } from "./_fixture.ts";
import { buildWaterfall } from "./_waterfall.ts";

const reader = new FixtureReader({ ticks: 2, failingTick: 1 });

function span(spanId: string, parentSpanId: string | undefined, start: number, durationMs: number) {
  return {
    traceId: "t",
    spanId,
    parentSpanId,
    service: "s",
    name: spanId,
    kind: "internal",
    start,
    durationMs,
    status: "unset",
    attributes: {},
    events: [],
    links: [],
    resource: {},
  } satisfies SpanRecord;
}

Deno.test("the Kafka trace's rows follow the flow depth-first, each hop one level deeper", () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const { rows } = buildWaterfall(trace.spans.toReversed());
  assert.deepEqual(
    rows.map((row) => `${row.depth} ${row.span.service} ${row.span.name}`),
    [
      "0 executor call-post-message",
      "1 executor POST",
      "2 app1 POST /Message/Post-Message",
      "3 app1 send Purchase",
      "4 app2 process Purchase",
      "5 app2 POST",
      "6 app3 POST /Message/Post-Message",
      "7 app3 send Purchase2",
      "8 app4 process Purchase2",
      "9 app4 SET",
    ],
  );
  assert.deepEqual(rows[4].ancestors, rows.slice(0, 4).map((row) => row.span.spanId));
  assert.equal(rows[0].children, 1);
  assert.equal(rows[9].children, 0);
});

Deno.test("calls name who answered them; consumers carry their wait in the topic", () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const { rows } = buildWaterfall(trace.spans);
  const by = (name: string, service: string) =>
    rows.find((row) => row.span.name === name && row.span.service === service)!;
  assert.equal(by("POST", "executor").peer, "app1");
  assert.equal(by("POST", "app2").peer, "app3");
  assert.equal(by("send Purchase", "app1").peer, undefined, "its name says the topic already");
  assert.equal(by("SET", "app4").peer, "redis");
  const send = by("send Purchase", "app1").span;
  const process = by("process Purchase", "app2");
  assert.equal(process.wait?.topic, "Purchase");
  const sent = send.start + send.durationMs;
  assert.equal(process.wait?.from, sent, "from the send's end");
  assert.ok(Math.abs(process.wait!.ms - Math.max(0, process.span.start - sent)) < 1e-9);
  assert.equal(by("POST /Message/Post-Message", "app1").wait, undefined);
});

Deno.test("self time excludes the children's time, and the most of it is marked", () => {
  const waterfall = buildWaterfall([
    span("root", undefined, 0, 100),
    span("a", "root", 10, 30),
    span("b", "root", 30, 50), // overlaps a: children cover 10..80
    span("leaf", "b", 30, 45),
  ]);
  const self = Object.fromEntries(waterfall.rows.map((row) => [row.span.spanId, row.selfMs]));
  assert.deepEqual(self, { root: 30, a: 30, b: 5, leaf: 45 });
  assert.equal(waterfall.slowestSelf, "leaf");
  assert.equal(waterfall.start, 0);
  assert.equal(waterfall.end, 100);
});

Deno.test("spans whose parent has not arrived become extra roots, marked; cycles end", () => {
  const waterfall = buildWaterfall([
    span("late", "missing", 20, 5),
    span("root", undefined, 0, 50),
    span("x", "y", 1, 1),
    span("y", "x", 2, 1),
  ]);
  assert.equal(waterfall.rows[0].span.spanId, "root");
  const late = waterfall.rows.find((row) => row.span.spanId === "late")!;
  assert.equal(late.orphan, true);
  assert.equal(late.depth, 0);
  assert.equal(waterfall.rows.find((row) => row.span.spanId === "root")!.orphan, false);
  // x and y name each other as parents: both are still shown, once each, and nothing hangs.
  assert.deepEqual(waterfall.rows.map((row) => row.span.spanId).toSorted(), [
    "late",
    "root",
    "x",
    "y",
  ]);
});

Deno.test("a consumer that links to its producer (instead of a child of it) has its wait too", () => {
  const producer = { ...span("send", "root", 10, 5), kind: "producer" as const };
  const consumer = {
    ...span("process", "root", 40, 10),
    kind: "consumer" as const,
    links: [{ traceId: "t", spanId: "send", attributes: {} }],
  };
  const { rows } = buildWaterfall([span("root", undefined, 0, 60), producer, consumer]);
  const row = rows.find((r) => r.span.spanId === "process")!;
  assert.deepEqual(row.wait, { from: 15, ms: 25, topic: undefined });
});
