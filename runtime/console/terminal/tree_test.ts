import assert from "node:assert/strict";
import { FixtureReader, FLOW_TRACES } from "../pages/_fixture.ts";
import { renderTrace, treePrefixes } from "./tree.ts";
import { matches, parseOptions, UsageError } from "./main.ts";

const reader = new FixtureReader({ ticks: 3, failingTick: 2 });

Deno.test("tree prefixes draw branches and the lines that continue past them", () => {
  assert.deepEqual(treePrefixes([0, 1, 2, 2, 1, 2]), [
    "",
    "├─ ",
    "│  ├─ ",
    "│  └─ ",
    "└─ ",
    "   └─ ",
  ]);
  assert.deepEqual(treePrefixes([0, 1, 2, 3]), ["", "└─ ", "   └─ ", "      └─ "]);
});

Deno.test("the Kafka trace as a tree: header, where the time went, one line per hop", () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const lines = renderTrace(trace, { color: false, width: 120 }).split("\n");
  assert.match(
    lines[0],
    /^\d\d:\d\d:\d\d\.\d{3} {2}call-post-message {2}\(executor\) {2}[\d.]+ ms {2}10 spans {2}ed678ee1/,
  );
  assert.match(
    lines[1],
    /Kafka send [\d.]+ .s · in topic .* · Kafka process [\d.]+ ms · Redis [\d.]+ ms · HTTP/,
  );
  assert.ok(!lines[1].includes("PostgreSQL"), "no PostgreSQL in the Kafka trace");
  const spans = lines.slice(2);
  assert.equal(spans.length, 10);
  assert.match(spans[0], /^ {2}call-post-message \(executor\) +[\d.]+ ms ▕█+ *▏$/);
  assert.match(spans[1], /^ {2}└─ POST \(executor\) → app1 /);
  assert.match(spans[4], /^ {2}( {3}){3}└─ process Purchase \(app2\) {2}\([\d.]+ .s in topic\)/);
  assert.match(spans[9], /^ {2}( {3}){8}└─ SET \(app4\) → redis/);
  for (const line of spans) assert.equal([...line].length, 120, "every line fills the width");
  const bars = spans.map((line) => line.slice(line.indexOf("▕")));
  assert.ok(bars.every((bar) => [...bar].length === bars[0].length), "bars share one time axis");
});

Deno.test("errors are said on their span and in the header; colour only when asked", () => {
  const failing = FixtureReader.idFor(FLOW_TRACES.postgres.traceId, 2);
  const trace = reader.trace(failing)!;
  const plain = renderTrace(trace, { color: false, width: 160 });
  assert.match(plain.split("\n")[0], /2 errors/);
  assert.match(
    plain,
    /INSERT messages \(app3\) → postgresql {2}! connect ECONNREFUSED 127\.0\.0\.1:5432/,
  );
  assert.ok(!plain.includes("\x1b"));
  const coloured = renderTrace(trace, { color: true, width: 160 });
  assert.ok(coloured.includes("\x1b[31m"));
  // deno-lint-ignore no-control-regex
  assert.equal(coloured.replace(/\x1b\[[\d;]*m/g, ""), plain);
});

Deno.test("a narrow terminal cuts long names instead of wrapping", () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const lines = renderTrace(trace, { color: false, width: 60 }).split("\n").slice(2);
  for (const line of lines) assert.ok([...line].length <= 60, line);
  assert.ok(lines.some((line) => line.includes("…")));
});

Deno.test("options: defaults, filters to the API's names, and clear errors", () => {
  const defaults = parseOptions([], {});
  assert.equal(defaults.url, "http://localhost:8000");
  assert.equal(defaults.limit, 5);
  assert.equal(defaults.follow, false);
  assert.equal(defaults.json, false);
  const options = parseOptions([
    "--url",
    "http://127.0.0.1:19000/",
    "--limit=2",
    "-f",
    "--json",
    "--service",
    "app4",
    "--error",
    "--min-ms",
    "12.5",
    "--attr",
    "message_id:abc",
  ], {});
  assert.equal(options.url, "http://127.0.0.1:19000");
  assert.equal(options.limit, 2);
  assert.equal(options.follow, true);
  assert.equal(options.json, true);
  assert.equal(
    options.query.toString(),
    "service=app4&error=true&minMs=12.5&attr=message_id%3Aabc",
  );
  assert.equal(
    parseOptions([], { CONSOLE_URL: "http://localhost:9000" }).url,
    "http://localhost:9000",
  );
  assert.throws(() => parseOptions(["--limit", "zero"], {}), UsageError);
  assert.throws(() => parseOptions(["--attr", "nocolon"], {}), /must be key:value/);
  assert.throws(() => parseOptions(["--url", "not a url"], {}), /is not a URL/);
  assert.throws(() => parseOptions(["--bogus"], {}), /bogus/);
});

Deno.test("followed traces are filtered as the API filters the list", () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const item = reader.traces().find((entry) => entry.traceId === trace.traceId)!;
  const query = (text: string) => new URLSearchParams(text);
  assert.ok(matches(item, trace, query("service=app4")));
  assert.ok(!matches(item, trace, query("service=nobody")));
  assert.ok(matches(item, trace, query("name=process")));
  assert.ok(!matches(item, trace, query("error=true")));
  assert.ok(!matches(item, trace, query(`minMs=${item.durationMs + 1}`)));
  assert.ok(matches(item, trace, query("attr=messaging.destination.name:Purchase2")));
  assert.ok(!matches(item, trace, query("attr=messaging.destination.name:Other")));
});
