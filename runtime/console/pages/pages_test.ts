/**
 * The pages rendered over the recorded flow: what each shows, the filters in the URL, the live
 * fragments, the static files. (What they look like and do in a browser: tests/console_browser_test.ts.)
 */
import assert from "node:assert/strict";
import { FixtureReader, FLOW_TRACES } from "./_fixture.ts";
import { createConsolePages } from "./mod.ts";
import { onTimeline } from "./metrics.tsx";

const reader = new FixtureReader({ ticks: 6, failingTick: 2 });
const pages = createConsolePages(reader, { now: () => reader.now });
const failing = FixtureReader.idFor(FLOW_TRACES.postgres.traceId, 2);

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await pages.request(path, { headers });
  return { status: response.status, headers: response.headers, html: await response.text() };
}

/** The rows of the traces table, as their trace ids, in page order. */
function traceRows(html: string): string[] {
  return [...html.matchAll(/<tr data-trace-id="([0-9a-f]+)"/g)].map((match) => match[1]);
}

Deno.test("every page is a full HTML document with the navigation and buffer stats", async () => {
  for (const path of ["/", "/graph", "/logs", "/metrics", "/functions"]) {
    const { status, html, headers } = await get(path);
    assert.equal(status, 200, path);
    assert.match(headers.get("content-type")!, /^text\/html/);
    assert.match(html, /^<!doctype html><html lang="en">/);
    for (const label of ["Traces", "Service graph", "Logs", "Metrics", "Functions"]) {
      assert.ok(html.includes(`>${label}</a>`), `${path} links to ${label}`);
    }
    assert.match(html, /<b>12<\/b> traces/, `${path} shows the buffer stats`);
    assert.match(html, /aria-current="page"/);
    assert.match(
      html,
      /<script type="module" src="\/static\/console\.js\?v=[0-9a-f]{12}"><\/script>/,
    );
  }
});

Deno.test("Traces: newest first, one row per trace, error marked, bars relative to the slowest", async () => {
  const { html } = await get("/");
  const rows = traceRows(html);
  assert.deepEqual(rows, reader.traces().map((trace) => trace.traceId));
  assert.equal(rows.length, 12);
  const errorRows = [...html.matchAll(/<tr data-trace-id="([0-9a-f]+)" class="err"/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(errorRows, [failing]);
  const widths = [...html.matchAll(/class="bar" style="--w:([\d.]+)%"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 12);
  assert.equal(Math.max(...widths), 100);
  assert.ok(Math.min(...widths) < 100);
  assert.ok(html.includes(`href="/traces/${rows[0]}"`));
});

Deno.test("Traces: filters from the URL narrow the list and stay in the form", async () => {
  const errors = await get("/?error=1");
  assert.deepEqual(traceRows(errors.html), [failing]);
  assert.match(errors.html, /<input type="checkbox" name="error" value="1" checked/);

  const byService = traceRows((await get("/?service=app4")).html);
  assert.equal(byService.length, 6);
  assert.ok(byService.every((id) => reader.trace(id)!.summary.services.includes("app4")));

  const byName = await get("/?name=INSERT");
  assert.equal(traceRows(byName.html).length, 6);
  assert.match(byName.html, /name="name" value="INSERT"/);

  const slow = reader.traces().map((trace) => trace.durationMs).sort((a, b) => b - a);
  const minMs = (slow[2] + slow[3]) / 2;
  assert.equal(traceRows((await get(`/?minMs=${minMs}`)).html).length, 3);

  const key = "messaging.kafka.message.key:072ea9a6-a1ed-40e9-96fe-0f20a29a7a56";
  assert.equal(traceRows((await get(`/?attr=${encodeURIComponent(key)}`)).html).length, 6);

  const none = await get("/?service=nobody");
  assert.deepEqual(traceRows(none.html), []);
  assert.match(none.html, /No trace matches these filters/);
});

Deno.test("Traces: bad filter values are said, not guessed", async () => {
  const { status, html } = await get("/?minMs=fast&attr=nokey&limit=0");
  assert.equal(status, 200);
  assert.match(html, /role="alert"/);
  assert.match(html, /minimum duration &quot;fast&quot; is not a number of milliseconds/);
  assert.match(html, /attribute &quot;nokey&quot; is not key:value/);
  assert.match(html, /limit &quot;0&quot; is not a whole number/);
});

Deno.test("Traces: an empty console says when traces will come", async () => {
  const empty = createConsolePages(new FixtureReader({ ticks: 0 }));
  const html = await (await empty.request("/")).text();
  assert.match(html, /No traces yet/);
  assert.match(html, /Traces appear as the functions run/);
});

Deno.test("Trace: the seed's answers, then a waterfall with one row per span, then the logs", async () => {
  const id = FLOW_TRACES.kafka.traceId;
  const { status, html } = await get(`/traces/${id}`);
  assert.equal(status, 200);
  const summary = reader.trace(id)!.summary;
  for (const label of ["Total", "PostgreSQL", "Kafka send", "in topic", "Kafka process", "Redis"]) {
    assert.ok(html.includes(`<span class="k">${label}</span>`), label);
  }
  assert.ok(html.indexOf('class="summary"') < html.indexOf('class="wf"'));
  assert.ok(html.indexOf('class="wf"') < html.indexOf('class="trace-logs"'));
  const rows = [...html.matchAll(/<div class="wf-row[^"]*" id="span-([0-9a-f]+)"/g)];
  assert.equal(rows.length, summary.spanCount);
  assert.equal([...html.matchAll(/class="wf-detail"/g)].length, summary.spanCount);
  assert.equal([...html.matchAll(/class="wf-detail"[^>]*hidden/g)].length, summary.spanCount);
  assert.match(html, /aria-level="9"/, "process Purchase2 sits eight levels below the root");
  assert.match(html, /→ redis/);
  // The trace's five log records, in time order.
  const logTimes = [
    ...html.slice(html.indexOf('class="trace-logs"')).matchAll(/data-ms="([\d.]+)"/g),
  ]
    .map((m) => Number(m[1]));
  assert.equal(logTimes.length, 5);
  assert.deepEqual(logTimes, logTimes.toSorted((a, b) => a - b));
});

Deno.test("Trace: a selected span's details are open, with attributes, resource and its logs", async () => {
  const trace = reader.trace(FLOW_TRACES.kafka.traceId)!;
  const consumer = trace.spans.find((span) => span.name === "process Purchase2")!;
  const { html } = await get(`/traces/${trace.traceId}?span=${consumer.spanId}`);
  const detail = html.slice(html.indexOf(`id="detail-${consumer.spanId}"`));
  assert.ok(!detail.slice(0, 200).includes("hidden"), "the selected span's details are shown");
  assert.match(html, new RegExp(`class="wf-row sel" id="span-${consumer.spanId}"`));
  const panel = detail.slice(0, detail.indexOf('class="wf-detail"', 10));
  assert.match(panel, /messaging\.consumer\.group\.name/);
  assert.match(panel, /service\.instance\.id/);
  assert.match(panel, /message cached/);
  assert.match(panel, /href="\/logs\?q=072ea9a6-a1ed-40e9-96fe-0f20a29a7a56"/);
});

Deno.test("Trace: the failing tick shows its errors, the exception and the error log", async () => {
  const { html } = await get(`/traces/${failing}`);
  assert.match(html, /<dd class="bad">2<\/dd>/);
  assert.equal([...html.matchAll(/<div class="wf-row err/g)].length, 2);
  assert.match(html, /class="mark exc"/);
  assert.match(html, /ECONNREFUSED/);
  assert.match(html, /<tr class="sev-error">/);
});

Deno.test("Trace: an unknown id is a 404 page that still follows the id live", async () => {
  const { status, html } = await get(`/traces/${"0".repeat(32)}`);
  assert.equal(status, 404);
  assert.match(html, /No trace 0{32} in the console/);
  assert.match(html, /data-live="trace" data-trace="0{32}"/);
});

Deno.test("the live fragment is the page's main content alone, with fresh stats", async () => {
  const { html, headers } = await get("/?error=1", { "x-console-fragment": "main" });
  assert.ok(!html.includes("<html"));
  assert.ok(!html.includes('class="filters"'));
  assert.deepEqual(traceRows(html), [failing]);
  assert.match(html, /<template id="stats-next"><span id="stats"/);
  assert.equal(headers.get("cache-control"), "no-store");
  assert.match(headers.get("vary")!, /x-console-fragment/);
});

Deno.test("Logs: newest first, filtered by service, severity, text and trace id", async () => {
  const rowsOf = (html: string) => [...html.matchAll(/<tr class="sev-(\w+)">/g)].map((m) => m[1]);
  const all = await get("/logs");
  assert.equal(rowsOf(all.html).length, reader.records.length);
  assert.deepEqual(rowsOf((await get("/logs?severity=error")).html), ["error"]);
  assert.equal(rowsOf((await get("/logs?service=app4")).html).length, 6);
  assert.equal(rowsOf((await get("/logs?q=CACHED")).html).length, 6);
  const one = await get(`/logs?traceId=${failing}`);
  assert.equal(rowsOf(one.html).length, 3);
  assert.ok(one.html.includes(`href="/traces/${failing}?span=`), "each record links to its span");
  const bad = await get("/logs?traceId=xyz&severity=loud");
  assert.match(bad.html, /trace id &quot;xyz&quot; is not 32 hexadecimal digits/);
  assert.match(bad.html, /severity &quot;loud&quot; is not one of/);
});

Deno.test("Service graph: an SVG with every node and edge, labelled", async () => {
  const { html } = await get("/graph");
  assert.match(html, /<svg class="graph"/);
  for (const node of reader.graph().nodes) {
    assert.ok(html.includes(`data-node="${node.id}"`), node.id);
  }
  for (const edge of reader.graph().edges) {
    assert.ok(
      html.includes(`<g class="edge`) &&
        html.includes(`data-edge="${edge.source}-&gt;${edge.target}"`),
      `${edge.source}→${edge.target}`,
    );
  }
  assert.match(html, /class="node n-topic"[^>]*data-node="Purchase"/);
  assert.match(html, /class="node n-database"[^>]*data-node="postgresql"/);
  assert.match(html, /class="node n-cache"[^>]*data-node="redis"/);
  assert.match(html, /1 failed/);
});

Deno.test("Metrics: a row and a chart per function and per consumer", async () => {
  const { html } = await get("/metrics");
  const metrics = reader.metrics();
  assert.equal([...html.matchAll(/<tr data-function=/g)].length, metrics.functions.length);
  assert.equal([...html.matchAll(/<tr data-consumer=/g)].length, metrics.consumers.length);
  assert.equal(
    [...html.matchAll(/<svg class="spark"/g)].length,
    metrics.functions.length + metrics.consumers.length,
  );
  assert.match(html, /1<span class="small"> \(1\.9%\)<\/span>/, "app3's one error of 52 calls");
});

Deno.test("Functions: services with ports, readiness, triggers, invoke and run-now forms", async () => {
  const { html } = await get("/functions");
  for (const service of ["executor", "app1", "app2", "app3", "app4"]) {
    assert.ok(html.includes(`data-service="${service}"`), service);
  }
  assert.match(html, /:8001/);
  assert.match(html, /<span class="badge bad">not ready<\/span>/);
  assert.match(html, /postgres down: connect ECONNREFUSED/);
  // app1's two routes, app3's three, app4's one.
  assert.equal([...html.matchAll(/<form class="invoke-form"/g)].length, 6);
  assert.equal([...html.matchAll(/<form class="run-form"/g)].length, 2);
  assert.match(html, /data-route="POST \/Message"/);
  assert.match(html, /forward-purchase/);
  assert.match(html, /id="flags"/);
});

Deno.test("Functions: a flags panel takes the place kept for it", async () => {
  const withFlags = createConsolePages(reader, { flagsPanel: () => "<p>flag panel</p>" });
  const html = await (await withFlags.request("/functions")).text();
  assert.match(html, /&lt;p&gt;flag panel/);
  assert.ok(!html.includes("No flag provider is mounted"));
});

Deno.test("static files: the script, stylesheet and icon, immutable when versioned", async () => {
  const page = await get("/");
  const version = page.html.match(/console\.css\?v=([0-9a-f]+)/)![1];
  const css = await get(`/static/console.css?v=${version}`);
  assert.equal(css.status, 200);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  assert.match(css.headers.get("cache-control")!, /immutable/);
  assert.match(css.html, /\.wf-row/);
  const js = await get("/static/console.js");
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(js.headers.get("cache-control"), "no-cache");
  assert.match(js.html, /EventSource/);
  const format = await get("/static/format.js");
  assert.equal(format.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(format.html, /export function formatDuration/, "the module console.js imports");
  assert.equal((await get("/static/favicon.svg")).headers.get("content-type"), "image/svg+xml");
  const missing = await get("/static/nope.js");
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.html), { error: "no static file nope.js" });
});

Deno.test("Metrics: each series is laid on the whole window by time, gaps left empty", () => {
  const timeline = { slots: 6, bucketMs: 10_000, end: 99_999 };
  const series = [{ time: 60_000, v: 1 }, { time: 80_000, v: 2 }, { time: 95_000, v: 3 }];
  assert.deepEqual(onTimeline(timeline, series, (p) => p.v, 0), [0, 0, 1, 0, 2, 3]);
  const gaps = onTimeline(timeline, series, (p) => p.v === 2 ? undefined : p.v, Number.NaN);
  assert.deepEqual(gaps.map((value) => Number.isNaN(value) ? null : value), [
    null,
    null,
    1,
    null,
    null,
    3,
  ]);
  assert.deepEqual(onTimeline(timeline, [{ time: 0, v: 9 }], (p) => p.v, 0), [0, 0, 0, 0, 0, 0]);
});
