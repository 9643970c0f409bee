/**
 * `deno task reliability`: runs a seeded chaos run (`--seed`, `--chaos 10m`) and the fault
 * scenarios, longer than the tests do, against the embedded defaults and, when `DATABASE_URL`,
 * `REDIS_URL` and kcat are available, against real servers, and writes docs/RELIABILITY.md from
 * what ran, and nothing else. `--quick` runs short versions and prints without writing (add
 * `--write` to write anyway).
 *
 * @module
 */
import {
  type Backends,
  embeddedBackends,
  LANDED_STALL_MS,
  type OutageFigures,
  outageScenario,
  type PoisonFigures,
  poisonScenario,
  READYZ_SAMPLE_MS,
  realBackends,
  realBackendsUnavailable,
  type RestartFigures,
  restartScenario,
} from "./_scenarios.ts";
import { parseArgs } from "node:util";
import { MAX_CONTENT_CHARS } from "../functions/_shared/message.ts";
import { loadConfig } from "../runtime/config.ts";
import { MAX_HEADER_BYTES } from "../runtime/http/server.ts";
import { ALLOWED_COMMANDS } from "../runtime/cache/bridge.ts";
import { FSYNC_INTERVAL_MS } from "../runtime/file_sync.ts";
import { DLQ_SUFFIX } from "../runtime/messaging/consumer.ts";
import { badRequests } from "./_bad_inputs.ts";
import { type ChaosReport, describeFault, formatChaos, RECOVERY_MS, runChaos } from "./_chaos.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    seed: { type: "string" },
    chaos: { type: "string" },
  },
});
const quick = args.quick;
const scale = quick ? 0.25 : 1;
const chaosSeed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
/** How long the chaos runs, as given (or the default). */
const chaosText = args.chaos ?? (quick ? "30s" : "10m");
const chaosMs = (() => {
  const match = /^(\d+)(s|m)$/.exec(chaosText);
  if (!match) throw new Error(`--chaos ${chaosText}: expected e.g. 90s or 10m`);
  return Number(match[1]) * (match[2] === "m" ? 60_000 : 1000);
})();
const seconds = (s: number) => Math.max(3, Math.round(s * scale));
const say = (line: string) => console.error(`[reliability] ${line}`);

const chaos: ChaosReport[] = [];
const restarts: RestartFigures[] = [];
const outages: OutageFigures[] = [];
const poisons: PoisonFigures[] = [];

async function withBackends(open: () => Promise<Backends>, run: (b: Backends) => Promise<void>) {
  const backends = await open();
  try {
    await run(backends);
  } finally {
    await backends.close();
  }
}

const realReason = realBackendsUnavailable();
const suites: Array<[string, () => Promise<Backends>]> = [["embedded", embeddedBackends]];
if (realReason === undefined) suites.push(["real", realBackends]);
else say(`real servers skipped: ${realReason}`);

for (const [name] of suites) {
  say(`${name}: chaos, seed ${chaosSeed}, ${chaosMs / 1000} s`);
  const report = await runChaos({
    seed: chaosSeed,
    durationMs: chaosMs,
    backends: name as "embedded" | "real",
    say: (line) => say(`${name} chaos: ${line}`),
  });
  say(formatChaos(report));
  chaos.push(report);
}

for (const [name, open] of suites) {
  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    say(`${name}: ${signal} under load`);
    await withBackends(open, async (backends) => {
      restarts.push(
        await restartScenario(backends, {
          signal,
          loadSeconds: seconds(20),
          stopAfterSeconds: seconds(10),
        }),
      );
    });
  }
  say(`${name}: poison message`);
  await withBackends(open, async (backends) => {
    poisons.push(await poisonScenario(backends));
  });
  if (name === "real") {
    for (const dependency of ["postgres", "redis", "kafka"] as const) {
      say(`real: ${dependency} outage`);
      await withBackends(open, async (backends) => {
        outages.push(await outageScenario(backends, dependency, { outageSeconds: seconds(30) }));
      });
    }
  } else {
    for (const [mode, length] of [["refuse", 120], ["blackhole", 60]] as const) {
      say(`embedded: OTLP endpoint ${mode} for ${seconds(length)} s`);
      await withBackends(open, async (backends) => {
        outages.push(
          await outageScenario(backends, "otlp", {
            outageSeconds: seconds(length),
            otlpMode: mode,
          }),
        );
      });
    }
  }
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const answers = (record: Record<string, number>) =>
  Object.entries(record).map(([status, count]) => `${count}×${status}`).join(", ") || "none";
/** The readiness samples, collapsed: `200, 503 ×12 (not ready after 1.0 s)`. */
const readyz = (f: OutageFigures) => {
  const runs: string[] = [];
  let i = 0;
  while (i < f.readyzDuring.length) {
    let j = i;
    while (j < f.readyzDuring.length && f.readyzDuring[j] === f.readyzDuring[i]) j++;
    runs.push(j - i > 1 ? `${f.readyzDuring[i]} ×${j - i}` : `${f.readyzDuring[i]}`);
    i = j;
  }
  const detected = f.readyzDetectedMs >= 0 ? ` (not ready after ${s(f.readyzDetectedMs)} s)` : "";
  return runs.join(", ") + detected;
};
const lines: string[] = [];
const row = (...cells: unknown[]) => lines.push(`| ${cells.join(" | ")} |`);
/** A table's header row and its separator. */
const header = (...names: string[]) => {
  row(...names);
  row(...names.map(() => "---"));
};

const defaults = loadConfig({});
/** Where the real servers were (host and port only: never credentials). */
const realHosts = realReason
  ? "not used here"
  : ["DATABASE_URL", "REDIS_URL"].map((name) => new URL(Deno.env.get(name)!).host).join(", ");
lines.push(
  "# Reliability",
  "",
  "Every figure below comes from one run of one command, which wrote this file:",
  "",
  "```sh",
  `deno task reliability --seed ${chaosSeed} --chaos ${chaosText}`,
  "```",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)}, ${Deno.build.os}/${Deno.build.arch}, ` +
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores` +
    (realReason ? `; real servers skipped (${realReason})` : "") + ".",
  "Short versions of the same runs, with assertions, are part of `deno task test`",
  "(`tests/chaos_test.ts`, `tests/reliability_test.ts`).",
  "",
  "A message is *accepted* when app1 answered 2xx; it is *lost* if it never became readable at",
  "`GET app3 /Message/:id` (`POST /Message` → app3 → PostgreSQL) or `GET app4 /Message/:id`",
  "(`POST /Message/Post-Message` → Kafka → app2 → app3 → Kafka → app4 → Redis). *Real servers*",
  `are the PostgreSQL and Redis that \`DATABASE_URL\` and \`REDIS_URL\` name (${realHosts}),`,
  "each behind a TCP proxy the run cuts, and a librdkafka mock cluster of the run's own, frozen",
  "with SIGSTOP.",
  "",
  "## Seeded chaos",
  "",
  "`deno task chaos` (`tests/_chaos.ts`) sends messages at a steady rate, half on each path,",
  "while faults drawn from the seed hit the running flow: the host process killed (SIGKILL) or",
  "stopped (SIGTERM) and started again, PostgreSQL and Redis refusing connections or accepting",
  "them and never answering, the broker frozen, the OTLP endpoint refusing or swallowing exports,",
  "a fault flag switched on for a while (its failures are answered 5xx, or dead-lettered: those",
  "are counted apart, not as lost).",
  "*Redelivered* counts handler runs for a message its function had already handled (the sinks",
  "are idempotent on the message id, so they absorb them). A *stall* is a time in which a",
  "Purchase partition had accepted messages waiting and none of them landed in Redis; the part",
  `of the longest one that no fault (or the ${
    RECOVERY_MS / 1000
  } s after it) explains is held to the`,
  "retry budget. A request's *wait* is the time to its answer or its failure.",
  "",
);
header(
  "backends",
  "seed",
  "length (s)",
  "rate (msg/s)",
  "faults",
  "host starts",
  "sent",
  "answers",
  "accepted",
  "landed",
  "dead-lettered",
  "lost",
  "redelivered of handled (app2, app4)",
  "dead letters by function and cause",
  "longest stall (ms)",
  "unexplained (ms), budget",
  "longest wait (ms)",
  "over deadline",
  "targets",
);
const counted = (record: Readonly<Record<string, number>>) =>
  Object.entries(record).map(([key, count]) => `${count}×${key}`).join(", ") || "none";
for (const c of chaos) {
  const kinds: Record<string, number> = {};
  for (const fault of c.faults) {
    kinds[describeFault(fault)] = (kinds[describeFault(fault)] ?? 0) + 1;
  }
  row(
    c.backends,
    c.seed,
    c.durationMs / 1000,
    c.rate,
    counted(kinds),
    c.hostStarts,
    c.sent,
    counted(c.statuses),
    c.accepted,
    c.landed,
    c.deadLetteredAccepted,
    c.lost,
    `${c.redelivered.app2} of ${c.handled.app2}, ${c.redelivered.app4} of ${c.handled.app4}`,
    counted(c.deadLettered),
    `${c.longestStall.ms} (partition ${c.longestStall.partition})`,
    `${c.longestStall.unexplainedMs}, ${c.stallBudgetMs}`,
    c.longestWaitMs,
    `${c.overDeadline} (deadline ${c.deadlineMs / 1000} s)`,
    c.passed ? "met" : "MISSED",
  );
}
for (const c of chaos) {
  lines.push(
    "",
    `Faults of the ${c.backends} run (seconds from its start, and how long each lasted; a host`,
    "fault lasts until the host answered ready again):",
    "",
    c.faults.map((f) =>
      `${(f.atMs / 1000).toFixed(1)} s ${describeFault(f)} (${(f.tookMs / 1000).toFixed(1)} s)`
    )
      .join("; ") + ".",
  );
}
lines.push(
  "",
  "## Crash and graceful stop under load",
  "",
  "The host runs as its own process; mid-stream it gets SIGKILL (crash) or SIGTERM (stop), then it",
  "is started again on the same data. *Redelivered* counts handler runs for messages already",
  "handled, because an offset was not yet committed at the crash. A message counts as lost only if",
  `it had not landed once nothing more landed for ${
    LANDED_STALL_MS / 1000
  } s. On real servers *all landed after`,
  "restart* is mostly the Kafka backlog draining at the mock broker's pace (it answers a fetch",
  "with one record batch per partition); the embedded bus shows the host's own pace.",
  "",
);
header(
  "backends",
  "signal",
  "sent",
  "accepted",
  "lost",
  "redelivered (app2, app4)",
  "stop → ready again (s)",
  "all landed after restart (s)",
  "exit code, stop time",
  "server spans flushed",
);
for (const f of restarts) {
  row(
    f.backends,
    f.signal,
    f.sent,
    f.accepted,
    f.lost,
    `${f.redelivered.app2}, ${f.redelivered.app4}`,
    s(f.downMs),
    s(f.landedAfterMs),
    f.exitCode === undefined ? "—" : `${f.exitCode}, ${f.stopMs} ms`,
    f.spansFlushed ? `${f.spansFlushed.received} of ≥ ${f.spansFlushed.expected}` : "—",
  );
}

lines.push(
  "",
  "## Dependency outages under load",
  "",
  "The dependency goes away while the load runs; *during* counts the answers app1 gave in that",
  "time on the path that needs the dependency and on the other path; *readyz* is what the",
  `service using it reported, sampled every ${
    READYZ_SAMPLE_MS / 1000
  } s (and how soon after the outage began it first`,
  "said not ready); *recovery* is the time from the dependency's return to the first success of",
  "a call that needs it (Redis: app4's `GET /Message/:id`, which reads the cache; PostgreSQL and",
  "Kafka: app1's path through them); *probe during* is what that same call answered during the",
  "outage, which shows it needs the dependency.",
  "",
);
header(
  "dependency",
  "outage (s)",
  "sent",
  "accepted",
  "lost",
  "path needing it, during",
  "other path, during",
  "readyz during",
  "probe during",
  "recovery (ms)",
  "all landed after return (s)",
);
for (const f of outages.filter((o) => o.dependency !== "otlp")) {
  row(
    f.dependency,
    s(f.outageMs),
    f.sent,
    f.accepted,
    f.lost,
    answers(f.duringOutage),
    answers(f.otherPathDuring),
    readyz(f),
    f.probeDuring ?? "—",
    f.recoveryMs,
    s(f.landedAfterMs),
  );
}
if (realReason) lines.push("", `_Not measured here: ${realReason}._`);

lines.push(
  "",
  "## OTLP endpoint down",
  "",
  "*refuse*: nothing listens (connection refused). *blackhole*: connections are accepted and never",
  "answered, so exports hang until their timeout and the bounded queue " +
    `(${defaults.telemetry.maxQueueSize.traces} spans, ${defaults.telemetry.maxQueueSize.logs} log`,
  "records per service) fills. The host warns once per signal, counts what it drops in the SDK",
  "metrics `otel_sdk_exporter_{span,log}_exported_total{error_type}` (failed exports) and",
  "`otel_sdk_processor_{span,log}_processed_total{error_type}` (queue full; figures below from",
  "app1's `/metrics`), says when export recovers, and serves every request.",
  "",
);
header(
  "mode",
  "outage (s)",
  "sent",
  "accepted",
  "lost",
  "non-2xx answers",
  "dropped (app1)",
  "warnings",
  "recoveries logged",
  "spans received after",
);
for (const f of outages.filter((o) => o.dependency === "otlp")) {
  const non2xx = [f.duringOutage, f.otherPathDuring].flatMap((r) =>
    Object.entries(r).filter(([status]) => !status.startsWith("2"))
  ).reduce((sum, [, count]) => sum + count, 0);
  row(
    f.otlpMode,
    s(f.outageMs),
    f.sent,
    f.accepted,
    f.lost,
    non2xx,
    answers(f.telemetryDropped ?? {}),
    answers(f.exportWarnings ?? {}),
    f.exportRecoveries,
    f.spansAfter,
  );
}

lines.push(
  "",
  "## Poison message",
  "",
  "A malformed value is published to `Purchase`, then a good message with the same key (so the",
  `same partition). The poison goes to \`Purchase${DLQ_SUFFIX}\` at once (a \`PermanentError\` spends no`,
  "retries) with its original value and headers plus `dlq.*` headers and the trace context; the",
  "good message behind it is handled.",
  "",
);
header(
  "backends",
  "good message handled",
  "dead letter",
  "messaging_client_dead_lettered_messages_total",
  "time (ms)",
);
for (const f of poisons) {
  row(
    f.backends,
    f.goodLanded ? "yes" : "NO",
    f.deadLetter
      ? `value \`${f.deadLetter.value}\`, ${f.deadLetter.headers["dlq.error.type"]}, from ${
        f.deadLetter.headers["dlq.original.topic"]
      }/${f.deadLetter.headers["dlq.original.partition"]}@${
        f.deadLetter.headers["dlq.original.offset"]
      }`
      : "MISSING",
    f.failedMetric,
    f.msToLand,
  );
}

const cases = badRequests({ app1: "http://x", app3: "http://x", app4: "http://x" }, 65536).length;
lines.push(
  "",
  "## Bad input and security",
  "",
  `- ${cases} generated bad requests (malformed JSON, wrong types, missing and unknown fields,`,
  "  oversized bodies, wrong content types, bad ids, wrong methods, huge headers, seeded random",
  "  bytes and values) go to every endpoint in `tests/api_test.ts`: each gets a 4xx with a JSON",
  "  `{error}` (above the HTTP parser's own header limit, its bare 400), none a 5xx, and the",
  "  host stays healthy. Unusual but valid content (SQL and Redis command look-alikes, emoji,",
  `  ${MAX_CONTENT_CHARS} characters) round-trips byte for byte through PostgreSQL and Redis.`,
  "- SQL is parameterised only: functions pass `$1…$n` and values separately; span attributes",
  "  carry the statement text, never values (`db.query.text`), and Redis spans `SET ? ? EX ?`.",
  "- Logs, OTLP log records, spans, error answers and dead-letter headers carry message ids, never",
  "  message contents, credentials or tokens, on the error paths too (a 409, bad input, a",
  "  dead-lettered message, PostgreSQL and Redis outages with their retries), checked by",
  "  `tests/security_test.ts` with a PostgreSQL role and a Redis that really have passwords.",
  `- The services listen on ${defaults.hostname} unless \`HOST\` says otherwise. The Redis REST bridge listens`,
  "  on 127.0.0.1 only, answers 401 without its bearer token (a random one per host start), and",
  `  runs only what the cache client sends (${
    [...ALLOWED_COMMANDS].join(", ")
  }); every endpoint limits bodies`,
  `  (\`MAX_BODY_BYTES\`, ${defaults.maxBodyBytes} by default, 413) and headers (${MAX_HEADER_BYTES}`,
  "  bytes, 431).",
  "",
  "## What the semantics are",
  "",
  "- Delivery is at least once into idempotent sinks, not exactly once: a Kafka-triggered",
  "  function commits an offset only after its message was handled or dead-lettered, so a crash",
  "  redelivers what was in hand; app3 stores a row once per message id (primary key) and app4",
  "  sets `message:<id>`, so a redelivery changes nothing (the *redelivered* columns count them).",
  "- A failure caused by the message is retried with exponential backoff " +
    `(\`KAFKA_MAX_ATTEMPTS\` ${defaults.kafkaMaxAttempts},`,
  `  \`KAFKA_RETRY_BACKOFF_MS\` ${defaults.kafkaRetryBackoffMs}), then dead-lettered to`,
  "  `<topic>.DLQ`; a `PermanentError` (malformed message, a 4xx from the next function) is",
  "  dead-lettered at once. Errors are classified by cause: a connection that fails or times out",
  "  (or a server going away) is an outage and spends no attempt (the message waits, the",
  "  partition's lag grows, `/readyz` and the alerts say why); credentials a dependency refuses",
  "  are waited out the same way and `/readyz` says `misconfigured`; every other error is the",
  "  message's failure.",
  `- The embedded bus and store write each message before acknowledging it, so a killed process`,
  "  loses nothing acknowledged; whether it is on disk when the machine crashes is",
  `  \`EMBEDDED_FSYNC\` (\`${defaults.embeddedFsync}\` by default: synced every ${
    FSYNC_INTERVAL_MS / 1000
  } s;`,
  "  `always`: before acknowledging). PGlite keeps its data folder.",
  "",
);

const text = lines.join("\n");
if (quick && !args.write) {
  console.log(text);
} else {
  const path = new URL("../docs/RELIABILITY.md", import.meta.url);
  await Deno.writeTextFile(path, text);
  // The document is checked by `deno fmt --check` like everything else.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path.pathname] }).output();
  say("wrote docs/RELIABILITY.md");
}
const lost = [...chaos, ...restarts, ...outages].reduce((sum, f) => sum + f.lost, 0);
console.log(
  `lost=${lost} scenarios=${restarts.length + outages.length + poisons.length} ` +
    `chaos=${chaos.map((c) => `${c.backends}:${c.passed ? "met" : "MISSED"}`).join(",")}`,
);
