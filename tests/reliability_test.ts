/**
 * Delivery guarantees under faults, against the embedded defaults and, when the environment
 * names real servers, against real PostgreSQL and Redis (each behind a proxy the test cuts) and
 * a Kafka mock cluster of the test's own (frozen with SIGSTOP). Short runs of the scenarios in
 * tests/_scenarios.ts; `deno task reliability` runs them longer and writes docs/RELIABILITY.md.
 */
import assert from "node:assert/strict";
import { testWhen } from "../runtime/_test_needs.ts";
import { waitFor } from "../testing/wait.ts";
import { HostProcess } from "./_faults.ts";
import { postJson } from "./_harness.ts";
import {
  type Backends,
  embeddedBackends,
  HANDLED_LINES,
  handledCounts,
  type OutageFigures,
  outageScenario,
  poisonScenario,
  realBackends,
  realBackendsUnavailable,
  redelivered,
  restartScenario,
} from "./_scenarios.ts";

const reason = realBackendsUnavailable();

/** Registers a scenario test for the embedded defaults and for real servers. */
function scenario(
  name: string,
  fn: (backends: Backends) => Promise<void>,
  options: { embedded?: boolean; real?: boolean } = {},
): void {
  const variants = [
    ...(options.embedded === false ? [] : [["embedded", embeddedBackends, undefined] as const]),
    ...(options.real === false ? [] : [["real servers", realBackends, reason] as const]),
  ];
  for (const [label, open, cannot] of variants) {
    testWhen(cannot, {
      name: `${name} [${label}]`,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const backends = await open();
        try {
          await fn(backends);
        } finally {
          await backends.close();
        }
      },
    });
  }
}

/** Only 2xx and 503 answers: the host never failed a request with another error. */
function assertOnly2xxOr503(
  figures: { duringOutage: Record<string, number>; otherPathDuring: Record<string, number> },
) {
  for (const answers of [figures.duringOutage, figures.otherPathDuring]) {
    for (const status of Object.keys(answers)) {
      assert.match(
        status,
        /^(2\d\d|503)$/,
        `unexpected answer ${status}: ${JSON.stringify(answers)}`,
      );
    }
  }
}

scenario(
  "SIGKILL mid-stream: every accepted message lands after a restart (at least once, idempotent sinks)",
  async (backends) => {
    const figures = await restartScenario(backends, {
      signal: "SIGKILL",
      loadSeconds: 5,
      stopAfterSeconds: 2.5,
      clients: 4,
    });
    assert.ok(figures.accepted > 100, `only ${figures.accepted} messages accepted`);
    assert.equal(figures.lost, 0, JSON.stringify(figures));
  },
  // Against real servers, the chaos run kills and stops the host and the scale-out test kills
  // consumers under load: the suite runs these two on the embedded defaults only (CI time).
  { real: false },
);

scenario("SIGTERM under load: exits 0, loses nothing, flushes telemetry", async (backends) => {
  const figures = await restartScenario(backends, {
    signal: "SIGTERM",
    loadSeconds: 5,
    stopAfterSeconds: 2.5,
    clients: 4,
  });
  assert.equal(figures.exitCode, 0);
  assert.ok(figures.stopMs! < 15_000, `stop took ${figures.stopMs} ms`);
  assert.ok(figures.accepted > 100, `only ${figures.accepted} messages accepted`);
  assert.equal(figures.lost, 0, JSON.stringify(figures));
  const { expected, received } = figures.spansFlushed!;
  assert.ok(received >= expected, `${received} of ${expected} server spans reached the collector`);
}, { real: false });

scenario("a poison message is dead-lettered and does not block its partition", async (backends) => {
  const figures = await poisonScenario(backends);
  assert.ok(figures.goodLanded, "the message behind the poison was handled");
  assert.ok(figures.deadLetter, "the poison reached Purchase.DLQ");
  assert.equal(figures.deadLetter.value, "{not json");
  assert.equal(figures.deadLetter.headers["dlq.error.type"], "PermanentError");
  assert.equal(figures.deadLetter.headers["dlq.original.topic"], "Purchase");
  assert.equal(figures.deadLetter.headers["dlq.consumer.group"], "app2");
  assert.match(figures.deadLetter.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  assert.equal(figures.failedMetric, 1);
});

scenario(
  "PostgreSQL down and back: 503s meanwhile, the Kafka path unaffected, no loss",
  async (backends) => {
    const figures = await outageScenario(backends, "postgres", { outageSeconds: 5 });
    assertOutage(figures);
    assert.ok((figures.duringOutage["503"] ?? 0) > 0, JSON.stringify(figures.duringOutage));
    assert.ok((figures.otherPathDuring["202"] ?? 0) > 0, JSON.stringify(figures.otherPathDuring));
  },
  { embedded: false },
);

scenario(
  "Redis down and back: app4 holds its messages and catches up, no loss",
  async (backends) => {
    const figures = await outageScenario(backends, "redis", { outageSeconds: 5 });
    assertOutage(figures);
    assert.ok((figures.duringOutage["202"] ?? 0) > 0, "messages were still accepted into Kafka");
    assert.ok((figures.otherPathDuring["201"] ?? 0) > 0, JSON.stringify(figures.otherPathDuring));
  },
  { embedded: false },
);

scenario(
  "Kafka broker frozen and back: 503s meanwhile, PostgreSQL path unaffected, no loss",
  async (backends) => {
    // Longer than the producer's two 5 s request timeouts, so callers see their 503s.
    const figures = await outageScenario(backends, "kafka", { outageSeconds: 13 });
    assertOutage(figures);
    assert.ok((figures.duringOutage["503"] ?? 0) > 0, JSON.stringify(figures.duringOutage));
    assert.ok((figures.otherPathDuring["201"] ?? 0) > 0, JSON.stringify(figures.otherPathDuring));
  },
  { embedded: false },
);

scenario(
  "OTLP endpoint refusing: the flow goes on, drops are counted, export resumes",
  async (backends) => {
    // Longer than the exporter's 5 s of retries, which absorb a shorter outage without loss.
    const figures = await outageScenario(backends, "otlp", {
      outageSeconds: 9,
      otlpMode: "refuse",
    });
    assertTelemetryOutage(figures);
    assert.ok(
      (figures.telemetryDropped!["traces export_failed"] ?? 0) > 0,
      JSON.stringify(figures),
    );
  },
  { real: false },
);

scenario(
  "OTLP endpoint silent: the export queue stays bounded, drops are counted",
  async (backends) => {
    // A small queue, so the test does not depend on how fast this machine fills 2048.
    const figures = await outageScenario(backends, "otlp", {
      outageSeconds: 8,
      otlpMode: "blackhole",
      clients: 6,
      env: { OTEL_BSP_MAX_QUEUE_SIZE: "256", OTEL_BLRP_MAX_QUEUE_SIZE: "256" },
    });
    assertTelemetryOutage(figures);
    assert.ok((figures.telemetryDropped!["traces queue_full"] ?? 0) > 0, JSON.stringify(figures));
  },
  { real: false },
);

function assertOutage(figures: OutageFigures): void {
  assertOnly2xxOr503(figures);
  // A probe answered while the outage was still taking hold may say ready: the readiness check
  // has a 2 s deadline. From the first 503 on, it must say not ready until the dependency is back.
  const said = `readyz said ${figures.readyzDuring}`;
  assert.ok(figures.readyzDetectedMs >= 0 && figures.readyzDetectedMs <= 3_500, said);
  const fromDetection = figures.readyzDuring.slice(
    figures.readyzDuring.findIndex((s) => s !== 200),
  );
  assert.ok(fromDetection.length >= 2 && fromDetection.every((s) => s === 503), said);
  // The recovery probe failed while the dependency was away: it goes through the dependency.
  assert.equal(figures.probeDuring, 503, `the recovery probe answered ${figures.probeDuring}`);
  assert.ok(
    figures.recoveryMs >= 0 && figures.recoveryMs < 10_000,
    `recovered after ${figures.recoveryMs} ms`,
  );
  assert.equal(figures.lost, 0, JSON.stringify(figures));
}

function assertTelemetryOutage(figures: OutageFigures): void {
  assert.deepEqual(Object.keys(figures.duringOutage).filter((s) => !s.startsWith("2")), []);
  assert.deepEqual(Object.keys(figures.otherPathDuring).filter((s) => !s.startsWith("2")), []);
  assert.ok(
    figures.readyzDuring.every((s) => s === 200),
    "telemetry is not a readiness dependency",
  );
  assert.equal(figures.lost, 0);
  assert.deepEqual(figures.exportWarnings, { traces: 1, logs: 1 }, "said once per signal");
  assert.ok(figures.exportRecoveries! >= 1, "said when export recovered");
  assert.ok(figures.spansAfter! > 0, "spans arrive again");
}

Deno.test({
  name:
    "offsets that cannot be written: app2 says not ready, and a crash then redelivers what was handled (counted) [embedded]",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const backends = await embeddedBackends();
    const env = {
      ...HostProcess.ports(),
      ...backends.env,
      HOST: "127.0.0.1",
      OTEL_SDK_DISABLED: "true",
      EXECUTOR_SCHEDULE: "0 0 0 1 1 *",
      CONSOLE: "off",
      LOG_FORMAT: "json",
    };
    const hosts = [await HostProcess.start(env)];
    const readyz = async () => {
      const response = await fetch(`${hosts.at(-1)!.urls.app2}/readyz`);
      return { status: response.status, text: await response.text() };
    };
    try {
      // The offsets file cannot be written: its temporary file's name is taken by a folder.
      const blocker = `${backends.env.DATA_DIR}/bus/offsets.json.tmp`;
      await waitFor(
        "no offsets write under way",
        () => Deno.mkdir(blocker).then(() => true, () => false),
      );
      const sent = await postJson(`${hosts[0].urls.app1}/Message/Post-Message`, { content: "a" });
      assert.equal(sent.status, 202);
      const id = sent.body.id as string;
      const handled = (lines: readonly string[]) => ({
        app2: handledCounts(lines, HANDLED_LINES.app2).get(id) ?? 0,
        app4: handledCounts(lines, HANDLED_LINES.app4).get(id) ?? 0,
      });
      await waitFor("app2 and app4 to handle it", () => {
        const { app2, app4 } = handled(hosts[0].lines);
        return app2 === 1 && app4 === 1;
      });
      const said = await waitFor("app2 to say not ready", async () => {
        const answer = await readyz();
        return answer.status === 503 ? answer.text : undefined;
      });
      assert.match(said, /"kafka":"down: OffsetsNotWritableError"/);
      const why = hosts[0].records(
        "embedded bus cannot write its offsets; its consumers wait until it can",
      );
      assert.equal(why.length, 1, "said once, not per retry");
      assert.equal(why[0].error_type, "EISDIR");
      // A crash before the offsets could be written: the restarted host gets the message again.
      hosts[0].kill("SIGKILL");
      await hosts[0].exited;
      await Deno.remove(blocker);
      hosts.push(await HostProcess.start(env));
      const lines = () => hosts.flatMap((host) => host.lines);
      // app2 gets it again, and so does app4, twice: its own redelivery, and the copy app3
      // publishes again when app2 forwards it again (at least once, all the way down).
      await waitFor("the redeliveries", () => {
        const { app2, app4 } = handled(lines());
        return app2 === 2 && app4 === 3;
      });
      assert.deepEqual(redelivered(lines()), { app2: 1, app4: 2 });
      assert.equal((await readyz()).status, 200);
    } finally {
      for (const host of hosts) {
        try {
          host.kill("SIGTERM");
        } catch {
          // already gone
        }
        await host.exited;
      }
      await backends.close();
    }
  },
});

Deno.test("the reliability report's generator types no figure into its prose", async () => {
  const source = await Deno.readTextFile(new URL("./reliability_report.ts", import.meta.url));
  // The document's string literals (from where it is written on, comments aside) with what
  // `${…}` inserts taken out: a number with a unit left over was typed by hand, and the document
  // would state it whatever the run measured.
  const lines = source.split("\n");
  const from = lines.findIndex((line) => line.startsWith("const lines: string[] = []"));
  assert.ok(from > 0, "where the document is written");
  const typed = lines.flatMap((line, index) => {
    if (index < from || /^\s*(\/\/|\/?\*)/.test(line)) return [];
    const literals = line.match(/"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g) ?? [];
    const text = literals.join(" ").replace(/\$\{[^}]*\}/g, "");
    const figure = /\b\d+(?:\.\d+)?\s?(?:ms|s|MiB|KiB|%|msg\/s|seconds?|minutes?|attempts|times)\b/
      .exec(text);
    return figure ? [`line ${index + 1}: ${figure[0]}`] : [];
  });
  assert.deepEqual(typed, []);
});
