/**
 * Every metric a Grafana dashboard or an alert rule queries is one the host really exports:
 * a real `/metrics` scrape of every service, taken after the flow ran, compared with what the
 * stack's files query (metrics the collector or Tempo generate from traces are listed apart,
 * each with its reason, in tests/_stack.ts).
 */
import assert from "node:assert/strict";
import { SERVICE_NAMES } from "../runtime/config.ts";
import { startTestHost } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";
import { metricNamesQueriedByStack, unproducedMetrics } from "./_stack.ts";

Deno.test({
  name: "every metric the dashboards and alert rules query is exported by the host",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queried = metricNamesQueriedByStack();
    assert.ok(queried.length > 20, `only ${queried.length} queried metrics found`);
    const test = await startTestHost();
    try {
      // Let the flow run so that histograms and labelled counters have samples, not only TYPE.
      await waitFor(
        "the flow to reach app4",
        () => test.logs.some((line) => line.includes('"message cached"')) || undefined,
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
          "http_request_duration_seconds_bucket",
          "kafka_messages_consumed_total",
          "cron_runs_total",
        ]
      ) {
        assert.match(all, new RegExp(`^${sampled}\\{`, "m"), `${sampled} has samples`);
      }
    } finally {
      await test.stop();
    }
  },
});
