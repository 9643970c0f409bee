import assert from "node:assert/strict";
import { Hono } from "hono";
import { Counter, Gauge, Registry } from "prom-client";
import { assertPromtoolAccepts, memoryTelemetry } from "../_test_util.ts";
import { Readiness } from "../health.ts";
import { createServiceApp } from "../http/server.ts";
import { CLASSIC, expose, negotiate, OPENMETRICS } from "./exposition.ts";

const installed = (binary: string) =>
  new Deno.Command(binary, { args: ["--version"], stdout: "null", stderr: "null" })
    .output()
    .then((output) => output.success, () => false);
const prometheus = await installed("prometheus");

Deno.test("negotiate: OpenMetrics only when the scraper weighs it highest", () => {
  const prometheus242 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" +
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
  assert.equal(negotiate(prometheus242), OPENMETRICS);
  assert.equal(negotiate("application/openmetrics-text"), OPENMETRICS);
  assert.equal(negotiate(undefined), CLASSIC, "curl without Accept");
  assert.equal(negotiate("*/*"), CLASSIC);
  assert.equal(negotiate("text/plain"), CLASSIC);
  assert.equal(negotiate("text/plain;q=1, application/openmetrics-text;q=0.5"), CLASSIC);
  assert.equal(negotiate("application/openmetrics-text;q=0"), CLASSIC);
  assert.equal(negotiate("application/json"), CLASSIC, "nothing better to offer");
});

Deno.test("expose: counters, units, escaping and the end marker in each format", async () => {
  const registry = new Registry();
  const registers = [registry];
  new Counter({
    name: "jobs_done_total",
    help: 'Jobs "done"\\ok',
    labelNames: ["queue"],
    registers,
  }).inc({ queue: 'a "b"\\c\nd' }, 2);
  new Gauge({ name: "queue_wait_seconds", help: "Wait.", registers }).set(0.5);
  // A labelled family without series is left out (an unlabelled one always has its one value).
  new Counter({ name: "never_total", help: "Never recorded.", labelNames: ["queue"], registers });

  const classic = await expose([registry], CLASSIC);
  assert.equal(
    classic,
    [
      '# HELP jobs_done_total Jobs "done"\\\\ok',
      "# TYPE jobs_done_total counter",
      'jobs_done_total{queue="a \\"b\\"\\\\c\\nd"} 2',
      "# HELP queue_wait_seconds Wait.",
      "# TYPE queue_wait_seconds gauge",
      "queue_wait_seconds 0.5",
      "",
    ].join("\n"),
  );
  const om = await expose([registry], OPENMETRICS);
  assert.equal(
    om,
    [
      '# HELP jobs_done Jobs \\"done\\"\\\\ok',
      "# TYPE jobs_done counter",
      'jobs_done_total{queue="a \\"b\\"\\\\c\\nd"} 2',
      "# HELP queue_wait_seconds Wait.",
      "# TYPE queue_wait_seconds gauge",
      "# UNIT queue_wait_seconds seconds",
      "queue_wait_seconds 0.5",
      "# EOF",
      "",
    ].join("\n"),
  );
  // Rendering OpenMetrics leaves the counter's own name alone (prom-client's would not).
  assert.equal(await expose([registry], CLASSIC), classic);
  await assertPromtoolAccepts(classic, "expose");
});

/** A service app with one traced request recorded, served on a free port. */
async function servedApp() {
  const telemetry = memoryTelemetry("app1");
  telemetry.metrics.targetInfo.set({ service_name: "app1" }, 1);
  telemetry.metrics.messagingSent.inc({
    messaging_system: "kafka",
    messaging_destination_name: "Purchase",
    messaging_operation_name: "send",
  });
  const app = createServiceApp({
    telemetry,
    readiness: new Readiness({}, telemetry.metrics),
    functions: new Hono().post("/Message", (c) => c.json({}, 201)),
    maxBodyBytes: 1024,
    processMetrics: true,
  });
  await app.request("/Message", { method: "POST" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  return { telemetry, server, target: `127.0.0.1:${server.addr.port}` };
}

/** Runs a real Prometheus scraping `target` every second, with exemplar storage on. */
async function withPrometheus(target: string, fn: (api: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "prometheus-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: functions\n` +
      `    static_configs: [{ targets: ["${target}"] }]\n`,
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--enable-feature=exemplar-storage",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const api = `http://127.0.0.1:${port}/api/v1`;
  try {
    await fn(api);
  } finally {
    child.kill("SIGTERM");
    await child.stderr.cancel();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + 20_000;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`, { cause: last });
}

Deno.test({
  name: `a real Prometheus scrapes OpenMetrics and reads the exemplars back${
    prometheus ? "" : " [prometheus is not installed]"
  }`,
  ignore: !prometheus,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { telemetry, server, target } = await servedApp();
    const span = telemetry.span("POST /Message").spanContext();
    try {
      await withPrometheus(target, async (api) => {
        const get = async (path: string) => {
          const body = await (await fetch(`${api}${path}`)).json();
          assert.equal(body.status, "success", JSON.stringify(body));
          return body.data;
        };
        // The target is scraped without error: Prometheus's OpenMetrics parser accepted it.
        const health = await poll("a scrape", async () => {
          const data = await get("/targets");
          const active = data.activeTargets[0];
          return active?.lastScrape && !active.lastScrape.startsWith("0001") ? active : undefined;
        });
        assert.equal(health.health, "up", health.lastError);
        assert.equal(health.lastError, "");
        const query = async (promql: string) =>
          (await get(`/query?query=${encodeURIComponent(promql)}`)).result;
        const [sent] = await query("messaging_client_sent_messages_total");
        assert.equal(sent.value[1], "1", "the counter keeps its _total name");
        const [count] = await query(
          'http_server_request_duration_seconds_count{http_route="/Message"}',
        );
        assert.equal(count.value[1], "1");
        const [memory] = await query("process_memory_usage_bytes");
        assert.ok(Number(memory.value[1]) > 1e6);
        const now = Date.now() / 1000;
        const exemplars = await poll("the exemplar", async () => {
          const data = await get(
            `/query_exemplars?query=${
              encodeURIComponent("http_server_request_duration_seconds_bucket")
            }&start=${now - 600}&end=${now + 60}`,
          );
          return data.length > 0 ? data : undefined;
        });
        const labels = exemplars.flatMap((series: { exemplars: Array<{ labels: object }> }) =>
          series.exemplars.map((exemplar) => exemplar.labels)
        );
        assert.deepEqual(labels, [{ trace_id: span.traceId, span_id: span.spanId }]);
      });
    } finally {
      await server.shutdown();
    }
  },
});
