/**
 * A short seeded chaos run (tests/_chaos.ts) on each backend set, held to the targets: nothing
 * accepted is lost, no partition stalls longer than its retry budget for no fault's sake, every
 * request is answered within its deadline. The seed gives both sets every publish of app3
 * failing for a while (so messages are retried, then dead-lettered: counted, not lost) and a
 * host killed or stopped; the embedded set an OTLP endpoint refusing, the real servers a Redis
 * refusing connections.
 */
import assert from "node:assert/strict";
import type { MessageRecord } from "../load/mod.ts";
import { testWhen } from "../runtime/_test_needs.ts";
import {
  type ChaosReport,
  describeFault,
  FAULT_KINDS,
  formatChaos,
  longestStall,
  planFaults,
  retryBackoffsMs,
  runChaos,
} from "./_chaos.ts";
import { HANDLED_LINES, realBackendsUnavailable, redelivered } from "./_scenarios.ts";

const SEED = 771;
const SHORT = { durationMs: 20_000, faultMs: [1500, 4000], gapMs: [800, 2500] } as const;

Deno.test("planFaults: the same seed gives the same faults, within the run's quiet ends", () => {
  const plan = (seed: number) =>
    planFaults(seed, 60_000, FAULT_KINDS.real, [1000, 5000], [1000, 3000]);
  assert.deepEqual(plan(5), plan(5));
  assert.notDeepEqual(plan(5), plan(6));
  for (const fault of plan(5)) {
    assert.ok(fault.atMs >= 3000, "the load settles first");
    assert.ok(fault.atMs + fault.forMs <= 55_000, "healed before the load stops");
    assert.ok(FAULT_KINDS.real.includes(fault.kind));
  }
  const embedded = planFaults(5, 600_000, FAULT_KINDS.embedded, [1000, 5000], [1000, 3000]);
  assert.ok(embedded.every((fault) => FAULT_KINDS.embedded.includes(fault.kind)));
  assert.deepEqual(
    new Set(embedded.map((fault) => fault.kind)),
    new Set(FAULT_KINDS.embedded),
    "a long run draws every kind",
  );
});

Deno.test("longestStall: waits with nothing landing, less what the faults (and recovery) cover", () => {
  const message = (sentAt: number, landedAt: number | undefined, partition = 0): MessageRecord => ({
    id: crypto.randomUUID(),
    route: "post-message",
    sentAt,
    status: 202,
    settledMs: 5,
    partition,
    landedAt,
  });
  const messages = [
    message(1000, 1100),
    message(2000, 9000), // 7 s without progress on partition 0
    message(3000, 9050),
    message(1000, 1500, 1),
    message(20_000, 21_000, 1),
  ];
  assert.deepEqual(longestStall(messages, []), { partition: 0, ms: 7000, unexplainedMs: 7000 });
  assert.deepEqual(longestStall(messages, [{ from: 2500, to: 8000 }]), {
    partition: 0,
    ms: 7000,
    unexplainedMs: 1500,
  });
  // Idle time (nothing waiting) is no stall.
  assert.equal(longestStall([message(0, 10), message(60_000, 60_010)], []).ms, 10);
});

Deno.test("redelivered: a second finished run for the same message, per function", () => {
  const line = (message: string, id: string) =>
    JSON.stringify({ level: "info", message, message_id: id });
  const lines = [
    line(HANDLED_LINES.app2, "a"),
    line(HANDLED_LINES.app2, "b"),
    line(HANDLED_LINES.app4, "a"),
    line(HANDLED_LINES.app2, "a"), // app2 ran again for a
    line(HANDLED_LINES.app4, "a"), // and app4 twice more
    line(HANDLED_LINES.app4, "a"),
    line("message handling failed; retrying", "b"), // a retry is not a redelivery
  ];
  assert.deepEqual(redelivered(lines), { app2: 1, app4: 2 });
  assert.deepEqual(redelivered(lines.slice(0, 3)), { app2: 0, app4: 0 });
});

Deno.test("retryBackoffsMs: the backoffs between a failing message's attempts", () => {
  // 200 ms doubling between 5 attempts: 200 + 400 + 800 + 1600.
  assert.equal(retryBackoffsMs({ kafkaMaxAttempts: 5, kafkaRetryBackoffMs: 200 }), 3000);
  assert.equal(retryBackoffsMs({ kafkaMaxAttempts: 1, kafkaRetryBackoffMs: 200 }), 0);
  assert.equal(retryBackoffsMs({ kafkaMaxAttempts: 3, kafkaRetryBackoffMs: 50 }), 150);
});

function assertTargets(report: ChaosReport): void {
  const text = formatChaos(report);
  assert.ok(report.faults.length >= 3, text);
  assert.ok(report.accepted > 300, text);
  assert.equal(report.lost, 0, text);
  // app3 failing every publish: app2 retried those messages, then dead-lettered them.
  assert.ok(report.deadLetteredAccepted > 0, text);
  // Why: app3 failed (5xx) on every attempt.
  assert.ok(
    Object.entries(report.deadLettered).some(([why, count]) =>
      /^forward-purchase Error: app3 answered 5\d\d$/.test(why) && count > 0
    ),
    text,
  );
  assert.equal(report.landed + report.deadLetteredAccepted, report.accepted, text);
  // Redeliveries are counted from the lines the functions write when done with a message: each
  // message that landed through Kafka has such a line, or the count would see nothing. (A
  // SIGKILL can cut off the lines of the host's last turn, so then most, not all.)
  const killed = report.faults.some((fault) => fault.kind === "host-sigkill");
  const most = (count: number) => killed ? Math.floor(count * 0.9) : count;
  assert.ok(report.landedViaKafka > 0, text);
  assert.ok(report.handled.app4 >= most(report.landedViaKafka), text);
  assert.ok(report.handled.app2 >= most(report.handled.app4), text);
  assert.equal(report.overDeadline, 0, text);
  assert.ok(report.longestStall.unexplainedMs <= report.stallBudgetMs, text);
  assert.ok(report.passed, text);
}

Deno.test({
  name:
    `a seeded chaos run loses nothing and answers every request in time [embedded, seed ${SEED}]`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const report = await runChaos({ seed: SEED, backends: "embedded", ...SHORT });
    assert.deepEqual(report.faults.map(describeFault), [
      "flag app3PublishFailure=100%",
      "host-sigkill",
      "otlp-refuse",
    ]);
    assert.equal(report.hostStarts, 2);
    assertTargets(report);
  },
});

testWhen(realBackendsUnavailable(), {
  name:
    `a seeded chaos run loses nothing and answers every request in time [real servers, seed ${SEED}]`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const report = await runChaos({ seed: SEED, backends: "real", ...SHORT });
    assert.deepEqual(report.faults.map(describeFault), [
      "flag app3PublishFailure=100%",
      "host-sigterm",
      "redis-refuse",
    ]);
    assertTargets(report);
  },
});
