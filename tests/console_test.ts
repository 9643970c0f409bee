/**
 * The console inside the host: the flow runs, and everything is asserted through the console's
 * JSON API — both traces complete with their logs, the service graph's edges, the metrics, the
 * Functions page's facts, invoking an HTTP function and running a cron function now.
 */
import assert from "node:assert/strict";
import type {
  FunctionsOverview,
  MetricsOverview,
  ServiceGraph,
  TraceDetail,
  TraceListItem,
} from "../runtime/console/model.ts";
import { waitFor } from "../testing/wait.ts";
import { testEachBackend, type TestHost } from "./_harness.ts";
import { startTestHost } from "./_harness.ts";
import { freePort } from "../testing/port.ts";

async function api<T>(test: TestHost, path: string): Promise<T> {
  const response = await fetch(`${test.host.console!.endpoint}${path}`);
  const body = await response.json();
  assert.equal(response.status, 200, `${path}: ${JSON.stringify(body)}`);
  return body as T;
}

/** A trace rooted at `rootName` with `spanCount` spans, from the list, then in detail. */
async function completeTrace(test: TestHost, rootName: string, spanCount: number) {
  return await waitFor(`a complete ${rootName} trace in the console`, async () => {
    const { traces } = await api<{ traces: TraceListItem[] }>(
      test,
      `/api/traces?name=${rootName}&limit=50`,
    );
    const row = traces.find((t) => t.rootName === rootName && t.spanCount === spanCount);
    if (!row) return undefined;
    const detail = await api<TraceDetail>(test, `/api/traces/${row.traceId}`);
    return detail.logs.length > 0 ? { row, detail } : undefined;
  }, 40_000);
}

testEachBackend("console: the flow through the JSON API", async (suite) => {
  const test = await startTestHost({ env: suite.env });
  try {
    assert.ok(test.host.console, "the console runs by default");
    assert.match(test.host.console.url, /^http:\/\/localhost:\d+$/);

    const kafka = await completeTrace(test, "call-post-message", 10);
    assert.deepEqual(kafka.row.services, ["executor", "app1", "app2", "app3", "app4"]);
    assert.equal(kafka.row.error, false);
    const ids = new Set(kafka.detail.spans.map((s) => s.spanId));
    assert.equal(kafka.detail.spans.filter((s) => !s.parentSpanId).length, 1, "one root");
    for (const span of kafka.detail.spans) {
      if (span.parentSpanId) assert.ok(ids.has(span.parentSpanId), `${span.name}'s parent`);
    }
    assert.ok(kafka.detail.logs.every((log) => log.traceId === kafka.row.traceId));
    const k = kafka.detail.summary;
    assert.ok(k.kafka.sendMs > 0 && k.kafka.processMs > 0 && k.redisMs > 0, JSON.stringify(k));
    assert.ok(k.httpMs > 0 && k.durationMs >= k.kafka.processMs, JSON.stringify(k));
    assert.equal(k.postgresqlMs, 0);

    const pg = await completeTrace(test, "call-message", 6);
    assert.ok(pg.detail.summary.postgresqlMs > 0, JSON.stringify(pg.detail.summary));
    assert.deepEqual(pg.row.services, ["executor", "app1", "app3"]);

    const graph = await api<ServiceGraph>(test, "/api/graph");
    const edges = new Set(graph.edges.map((e) => `${e.source}->${e.target}`));
    for (
      const edge of [
        "executor->app1",
        "app1->app3",
        "app1->Purchase",
        "Purchase->app2",
        "app2->app3",
        "app3->Purchase2",
        "Purchase2->app4",
        "app4->redis",
        "app3->postgresql",
      ]
    ) assert.ok(edges.has(edge), `edge ${edge} in ${[...edges].join(", ")}`);
    assert.ok(graph.edges.every((e) => e.calls > 0 && e.p95Ms > 0));

    const metrics = await waitFor("consumer figures from the sampled registries", async () => {
      const overview = await api<MetricsOverview>(test, "/api/metrics");
      const consumer = overview.consumers.find((c) => c.service === "app2");
      return consumer && consumer.processed > 0 ? overview : undefined;
    }, 20_000);
    const names = metrics.functions.map((f) => `${f.service} ${f.trigger} ${f.name}`);
    for (
      const name of [
        "app1 http POST /Message",
        "app2 kafka process Purchase",
        "executor timer call-message",
      ]
    ) assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
    assert.deepEqual(
      metrics.consumers.map((c) => `${c.service} ${c.topic} ${c.group}`).sort(),
      ["app2 Purchase app2", "app4 Purchase2 app4"],
    );

    const { functions } = await api<FunctionsOverview>(test, "/api/functions");
    const app1 = functions.find((f) => f.service === "app1")!;
    assert.equal(app1.source, "host");
    assert.equal(app1.url, test.url("app1"));
    assert.ok(app1.http.some((r) => r.method === "POST" && r.path === "/Message"));
    const executor = functions.find((f) => f.service === "executor")!;
    assert.ok(executor.crons.every((c) => c.nextRun! > Date.now() - 1000), "next runs");
    assert.deepEqual(
      functions.find((f) => f.service === "app2")!.consumers.map((c) => c.topic),
      ["Purchase"],
    );

    // Invoke app1 from the console and find the call's trace.
    const console = test.host.console.endpoint;
    const invoked = await fetch(`${console}/api/functions/app1/invoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "POST", path: "/Message", body: { content: "from console" } }),
    });
    const result = await invoked.json();
    assert.equal(invoked.status, 200, JSON.stringify(result));
    assert.ok(result.status < 300, JSON.stringify(result));
    assert.match(result.traceId, /^[0-9a-f]{32}$/);
    await waitFor("the invoked call's trace", async () => {
      const response = await fetch(`${console}/api/traces/${result.traceId}`);
      if (response.status !== 200) return undefined;
      const detail: TraceDetail = await response.json();
      return detail.spans.some((s) => s.service === "app3") ? detail : undefined;
    });

    const form = await fetch(`${console}/api/functions/app1/invoke`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ path: "/Message" }),
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
    const unknown = await fetch(`${console}/api/functions/nope/invoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: "/Message" }),
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();

    // The executor ticks every second here: a run-now that meets a scheduled run is a 409
    // ("try again when it ends"), so it is tried again, as a user would.
    const started = await waitFor("a run-now that does not meet a scheduled run", async () => {
      const run = await fetch(`${console}/api/functions/executor/crons/call-message/run`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      const body = await run.json();
      if (run.status === 409) return undefined;
      assert.equal(run.status, 202, JSON.stringify(body));
      return body as { traceId: string };
    });
    await waitFor("the run-now trace", async () => {
      const response = await fetch(`${console}/api/traces/${started.traceId}`);
      if (response.status !== 200) return undefined;
      const detail: TraceDetail = await response.json();
      return detail.spans.length === 6 ? detail : undefined;
    });
  } finally {
    await test.stop();
  }
});

Deno.test({
  name: "console: an OTLP endpoint naming the host's own console is not exported to twice",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const port = String(freePort());
    const test = await startTestHost({
      services: ["executor"],
      env: { CONSOLE_PORT: port, OTEL_EXPORTER_OTLP_ENDPOINT: `http://localhost:${port}` },
    });
    try {
      assert.ok(test.logs.some((line) => line.includes("this host's own console")));
      const { traces } = await waitFor("a cron trace", async () => {
        const body = await api<{ traces: TraceListItem[] }>(test, "/api/traces?service=executor");
        return body.traces.length > 0 ? body : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const detail = await api<TraceDetail>(test, `/api/traces/${traces[0].traceId}`);
      const logs = detail.logs.map((log) => `${log.spanId} ${log.body}`);
      assert.equal(new Set(logs).size, logs.length, `each log record once: ${logs.join("; ")}`);
    } finally {
      await test.stop();
    }
  },
});
