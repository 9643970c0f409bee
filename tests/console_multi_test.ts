/**
 * Two host processes, one console: this test's host runs executor, app1 and app3 with the
 * console; a second host process runs app2 and app4 (`--service app2,app4`, `CONSOLE=off`) and
 * exports OTLP to the first's console. Both halves of the Kafka flow meet in one trace there.
 */
import assert from "node:assert/strict";
import type { TraceDetail, TraceListItem } from "../runtime/console/model.ts";
import { missingTool, testWhen } from "../runtime/_test_needs.ts";
import { MockKafka } from "../testing/kafka_mock.ts";
import { waitFor } from "../testing/wait.ts";
import { startTestHost } from "./_harness.ts";

testWhen(missingTool("kcat", "kcat"), {
  name: "console: a second host process (app2, app4) shows up in the first one's console",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const kafka = await MockKafka.start();
    const test = await startTestHost({
      services: ["executor", "app1", "app3"],
      env: { KAFKA_BROKERS: kafka.brokers },
    });
    const dataDir = await Deno.makeTempDir({ prefix: "console-second-host-" });
    let second: Deno.ChildProcess | undefined;
    try {
      const console = test.host.console!;
      second = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../runtime/main.ts", import.meta.url).pathname,
          "--service",
          "app2,app4",
        ],
        env: {
          CONSOLE: "off",
          OTEL_EXPORTER_OTLP_ENDPOINT: console.endpoint,
          KAFKA_BROKERS: kafka.brokers,
          KAFKA_SESSION_TIMEOUT_MS: "6000",
          APP3_URL: test.url("app3"),
          APP2_PORT: "0",
          APP4_PORT: "0",
          DATA_DIR: dataDir,
          HOST: "127.0.0.1",
        },
        stdin: "null",
        stdout: "null",
        stderr: "inherit",
      }).spawn();

      const detail = await waitFor("a Kafka-path trace spanning both processes", async () => {
        const { traces }: { traces: TraceListItem[] } = await (
          await fetch(`${console.endpoint}/api/traces?service=app4&name=call-post-message`)
        ).json();
        const row = traces.find((t) => t.spanCount === 10);
        if (!row) return undefined;
        return await (await fetch(`${console.endpoint}/api/traces/${row.traceId}`))
          .json() as TraceDetail;
      }, 60_000);
      const byService = new Set(detail.spans.map((s) => s.service));
      assert.deepEqual([...byService].sort(), ["app1", "app2", "app3", "app4", "executor"]);
      const app2 = detail.spans.find((s) => s.service === "app2")!;
      assert.notEqual(
        app2.resource["process.pid"],
        detail.spans.find((s) => s.service === "app1")!.resource["process.pid"],
        "app2's spans came from the other process",
      );
      assert.ok(detail.logs.some((log) => log.service === "app4"), "the second host's logs too");
      const { functions } = await (await fetch(`${console.endpoint}/api/functions`)).json();
      const sources = Object.fromEntries(
        functions.map((f: { service: string; source: string }) => [f.service, f.source]),
      );
      assert.equal(sources.app1, "host");
      assert.equal(sources.app4, "otlp");
    } finally {
      if (second) {
        second.kill("SIGTERM");
        await second.status;
      }
      await test.stop();
      await kafka.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
