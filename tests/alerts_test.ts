/**
 * The alerts, proven live: real Prometheus evaluates the shipped rules (time compressed sixty
 * times: minutes become seconds) over scrapes of the running host, and real Alertmanager routes
 * what fires, with the shipped routing, to this test's webhook. Fault flags make each alert fire
 * (`app3StoreFailure` → FunctionHighErrorRate, `app4CacheFailure` → KafkaMessagesDeadLettered,
 * `app2ConsumeDelayMs` with `executorBurst` → KafkaConsumerLagHigh); switching each flag off again
 * resolves its alert, and only its alert (the lag first: its backlog drains into the other two
 * faults, which keep failing steadily).
 */
import assert from "node:assert/strict";
import { missingTool, testWhen } from "../runtime/_test_needs.ts";
import {
  ALERTMANAGER_BINARY,
  compressDurations,
  durationMs,
  type Notification,
  type Server,
  startAlertmanager,
  startPrometheus,
  startWebhook,
} from "./_alerting.ts";
import { setFlagInFile } from "../testing/flag_file.ts";
import { waitFor } from "../testing/wait.ts";
import { startTestHost, type TestHost } from "./_harness.ts";

Deno.test("compressDurations shortens every window and keeps the rest of the expression", () => {
  assert.equal(durationMs("1h30m"), 5_400_000);
  assert.equal(durationMs("500ms"), 500);
  assert.throws(() => durationMs("5 minutes"));
  assert.equal(
    compressDurations('sum by (a) (rate(x{job="f", le="0.5"}[5m])) / rate(y[10m:1m]) > 0.05', 60),
    'sum by (a) (rate(x{job="f", le="0.5"}[5s])) / rate(y[10s:1s]) > 0.05',
  );
  assert.equal(compressDurations("increase(x[1m])", 60, 4000), "increase(x[4s])");
  assert.equal(compressDurations("time() - x > 60", 60), "time() - x > 60");
});

/** An alert of `name` whose labels include every value in `values`. */
function matches(labels: Record<string, string>, name: string, values: string[]): boolean {
  const all = Object.values(labels);
  return labels.alertname === name && values.every((value) => all.includes(value));
}

interface Alerting {
  readonly test: TestHost;
  readonly prometheus: Server;
  readonly notifications: Notification[];
  readonly flagsFile: string;
}

/** Sets `flag` to `variant` by rewriting the flag file, as `deno task flags` does. */
async function flip(alerting: Alerting, flag: string, variant: string): Promise<void> {
  await setFlagInFile(alerting.flagsFile, flag, variant);
  await waitFor(
    `${flag}=${variant} in force`,
    () =>
      alerting.test.host.flags.source.flags().find((f) => f.name === flag)?.variant === variant ||
      undefined,
    5000,
  );
}

/** The alerts Prometheus has firing now (`ALERTS{alertstate="firing"}`). */
async function firing(prometheus: Server): Promise<Array<Record<string, string>>> {
  const response = await fetch(
    `${prometheus.url}/api/v1/query?query=${encodeURIComponent('ALERTS{alertstate="firing"}')}`,
  );
  const body = await response.json() as {
    data: { result: Array<{ metric: Record<string, string> }> };
  };
  return body.data.result.map((series) => series.metric);
}

/** Waits until the webhook got `status` for the alert, after `since`; returns that notification. */
function notified(
  alerting: Alerting,
  status: "firing" | "resolved",
  name: string,
  values: string[],
  since: number,
  timeoutMs: number,
): Promise<Notification> {
  return waitFor(
    `Alertmanager to post ${name} ${status} (${values.join(", ")})`,
    () =>
      alerting.notifications.find((n) =>
        n.received >= since && n.status === status && matches(n.labels, name, values)
      ),
    timeoutMs,
  ).catch(async (error) => {
    const seen = alerting.notifications.map((n) => `${n.status} ${JSON.stringify(n.labels)}`);
    throw new Error(
      `${(error as Error).message}\nwebhook got:\n  ${seen.join("\n  ")}\nfiring now: ${
        JSON.stringify(await firing(alerting.prometheus))
      }\nprometheus:\n${alerting.prometheus.output().slice(-2000)}`,
    );
  });
}

testWhen([
  missingTool("prometheus", "prometheus"),
  missingTool(ALERTMANAGER_BINARY, "prometheus-alertmanager"),
], {
  name:
    "alerts fire on real Prometheus and reach Alertmanager when a fault flag is on, and resolve",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "alerts-test-" });
    const flagsFile = `${dir}/flags.json`;
    await Deno.copyFile(new URL("../flags.json", import.meta.url), flagsFile);
    const webhook = startWebhook();
    const test = await startTestHost({ env: { FLAGS_FILE: flagsFile } });
    const stops: Array<() => Promise<void>> = [() => test.stop(), () => webhook.stop()];
    try {
      const alertmanager = await startAlertmanager(dir, webhook.url);
      stops.unshift(() => alertmanager.stop());
      const targets = Object.fromEntries(
        Object.entries(test.host.urls).map(([service, url]) => [service, new URL(url!).host]),
      );
      const prometheus = await startPrometheus({
        dir,
        targets,
        alertmanager: alertmanager.url,
        compression: { factor: 60, minRangeMs: 4000 },
        intervalMs: 1000,
      });
      stops.unshift(() => prometheus.stop());
      const alerting: Alerting = {
        test,
        prometheus,
        notifications: webhook.notifications,
        flagsFile,
      };

      await waitFor("every service scraped", async () => {
        const response = await fetch(`${prometheus.url}/api/v1/targets?state=active`);
        const body = await response.json() as {
          data: { activeTargets: Array<{ health: string }> };
        };
        const targets = body.data.activeTargets;
        return targets.length === 5 && targets.every((target) => target.health === "up") ||
          undefined;
      }, 20_000);
      const quiet = ["FunctionHighErrorRate", "KafkaMessagesDeadLettered", "KafkaConsumerLagHigh"];
      assert.deepEqual(
        (await firing(prometheus)).filter((labels) => quiet.includes(labels.alertname)),
        [],
        "nothing fires before a flag is on",
      );

      const started = Date.now();
      await flip(alerting, "app3StoreFailure", "100%");
      await flip(alerting, "app4CacheFailure", "100%");
      await flip(alerting, "app2ConsumeDelayMs", "1s");
      await flip(alerting, "executorBurst", "25x");

      const errorRate = ["FunctionHighErrorRate", ["app3", "/PostMessage"]] as const;
      const deadLetters = ["KafkaMessagesDeadLettered", ["Purchase2", "app4"]] as const;
      const lag = ["KafkaConsumerLagHigh", ["Purchase", "app2"]] as const;

      await t.step("each flag's alert fires and reaches Alertmanager", async () => {
        for (const [name, values] of [errorRate, deadLetters, lag]) {
          const notification = await notified(
            alerting,
            "firing",
            name,
            [...values],
            started,
            45_000,
          );
          assert.ok(notification.annotations.summary, `${name} carries its summary`);
        }
      });

      await t.step("switching a flag off resolves its alert alone", async () => {
        // Each flag off in turn; the alerts of the flags still on keep firing meanwhile.
        const steps = [
          {
            flags: ["app2ConsumeDelayMs", "executorBurst"],
            alert: lag,
            after: [errorRate, deadLetters],
          },
          { flags: ["app3StoreFailure"], alert: errorRate, after: [deadLetters] },
          { flags: ["app4CacheFailure"], alert: deadLetters, after: [] },
        ];
        for (const step of steps) {
          const since = Date.now();
          for (const flag of step.flags) await flip(alerting, flag, "off");
          await notified(alerting, "resolved", step.alert[0], [...step.alert[1]], since, 45_000);
          const still = await firing(prometheus);
          for (const [name, values] of step.after) {
            assert.ok(
              still.some((labels) => matches(labels, name, [...values])),
              `${name} still fires while its flag is on`,
            );
          }
        }
      });
    } finally {
      for (const stop of stops) await stop().catch(() => {});
    }
  },
});
