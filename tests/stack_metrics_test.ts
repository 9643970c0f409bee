/**
 * Every metric a Grafana dashboard or an alert rule queries is one the host really exports:
 * a real `/metrics` scrape of every service, taken after the flow ran, compared with what the
 * stack's files query (metrics the collector or Tempo generate from traces are listed apart,
 * each with its reason, in tests/_stack.ts).
 */
import { type ServiceName, services } from "../functions/mod.ts";

const SERVICE_NAMES = Object.keys(services) as ServiceName[];
import assert from "node:assert/strict";
import { startTestHost } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";
import { metricFamilies, metricNamesQueriedByStack, unproducedMetrics } from "./_stack.ts";

Deno.test({
  name: "every metric the dashboards and alert rules query is exported by the host",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queried = metricNamesQueriedByStack();
    assert.ok(queried.length > 20, `only ${queried.length} queried metrics found`);
    const test = await startTestHost();
    try {
      // Let the flow run: a family appears on a port once its service records it.
      await waitFor(
        "both traces of a tick to reach their ends (PostgreSQL and Redis)",
        () =>
          (["message stored", "message cached"].every((message) =>
            test.logs.some((line) => line.includes(`"${message}"`))
          )) || undefined,
        30_000,
      );
      const scrapes = await Promise.all(
        SERVICE_NAMES.map(async (service) =>
          await (await fetch(`${test.url(service)}/metrics`)).text()
        ),
      );
      const missing = unproducedMetrics(queried, scrapes.join("\n"));
      assert.deepEqual(
        missing.map((metric) => `${metric.name} (${metric.where})`),
        [],
        "queried by the stack but not exported by the host",
      );
      const all = scrapes.join("\n");
      for (
        const sampled of [
          "http_server_request_duration_seconds_bucket",
          "messaging_process_duration_seconds_bucket",
          "messaging_client_sent_messages_total",
          "db_client_operation_duration_seconds_bucket",
          "faas_invocations_total",
          "process_memory_usage_bytes",
        ]
      ) {
        assert.match(all, new RegExp(`^${sampled}[{ ]`, "m"), `${sampled} has samples`);
      }
      // Process-wide families on exactly one port, so a sum over targets counts them once;
      // each port serves only the families its service records.
      const families = Object.fromEntries(
        SERVICE_NAMES.map((service, i) => [service, metricFamilies(scrapes[i])]),
      );
      const serving = (family: string) =>
        SERVICE_NAMES.filter((service) => families[service].has(family));
      for (const family of ["process_memory_usage_bytes", "v8js_memory_heap_used_bytes"]) {
        assert.deepEqual(serving(family), ["app1"], family);
      }
      assert.deepEqual(serving("faas_invoke_duration_seconds"), ["executor"]);
      assert.deepEqual(serving("db_client_operation_duration_seconds").sort(), ["app3", "app4"]);
      assert.deepEqual(serving("messaging_process_duration_seconds").sort(), ["app2", "app4"]);
      assert.deepEqual(serving("http_server_request_duration_seconds").sort(), ["app1", "app3"]);
      assert.deepEqual(serving("target_info").sort(), [...SERVICE_NAMES].sort());
    } finally {
      await test.stop();
    }
  },
});
