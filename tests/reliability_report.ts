/**
 * `deno task reliability`: runs the fault scenarios longer than the tests do (the OTLP endpoint
 * down for minutes) against the embedded defaults and, when `DATABASE_URL`, `REDIS_URL` and
 * kcat are available, against real servers, and writes the figures to docs/RELIABILITY.md.
 * `--quick` runs the short durations of the test suite and prints without writing.
 *
 * @module
 */
import {
  type Backends,
  embeddedBackends,
  type OutageFigures,
  outageScenario,
  type PoisonFigures,
  poisonScenario,
  realBackends,
  realBackendsUnavailable,
  type RestartFigures,
  restartScenario,
} from "./_scenarios.ts";
import { badRequests } from "./_bad_inputs.ts";

const quick = Deno.args.includes("--quick");
const scale = quick ? 0.25 : 1;
const seconds = (s: number) => Math.max(3, Math.round(s * scale));
const say = (line: string) => console.error(`[reliability] ${line}`);

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

lines.push(
  "# Reliability",
  "",
  "Figures from the fault-injection scenarios in `tests/_scenarios.ts`, produced by one command:",
  "",
  "```sh",
  "deno task reliability      # writes this file; with DATABASE_URL, REDIS_URL and kcat also real servers",
  "```",
  "",
  "The same scenarios run briefly, with assertions, in `deno task test` (`tests/reliability_test.ts`).",
  `Run on ${new Date().toISOString().slice(0, 10)}, ${Deno.build.os}/${Deno.build.arch}, ` +
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores` +
    (realReason ? `; real servers skipped (${realReason})` : "") + ".",
  "",
  "Load: clients post new messages (each with its own id) to app1 as fast as it answers, half on",
  "`POST /Message` (→ app3 → PostgreSQL), half on `POST /Message/Post-Message` (→ Kafka → app2 →",
  "app3 → Kafka → app4 → Redis). A message is *accepted* when app1 answered 2xx; it is *lost* if it",
  "never became readable at `GET app3 /Message/:id` or `GET app4 /Message/:id`. Real servers mean",
  "PostgreSQL and Redis on this machine, each behind a TCP proxy the scenario cuts (connections",
  "refused), and a librdkafka mock cluster of the scenario's own, frozen with SIGSTOP.",
  "",
  "## Crash and graceful stop under load",
  "",
  "The host runs as its own process; mid-stream it gets SIGKILL (crash) or SIGTERM (stop), then it",
  "is started again on the same data. *Redelivered* counts messages a sink handled twice because",
  "an offset was not yet committed at the crash: idempotent writes on the message id absorb them.",
  "A message counts as lost only if it had not landed once nothing more landed for 30 s.",
  "",
  "On real servers *all landed after restart* is mostly the Kafka backlog draining at the mock",
  "broker's pace: librdkafka's mock cluster answers a fetch with one record batch per partition,",
  "and app1 sends each message as its own batch, so app2 gets at most four messages per fetch",
  "round (about 110 messages/s on this machine, measured separately). A real broker returns up to",
  "`maxBytes` per fetch; the embedded bus shows the host's own pace.",
  "",
);
row(
  "backends",
  "signal",
  "sent",
  "accepted",
  "lost",
  "duplicate rows",
  "redelivered",
  "stop → ready again (s)",
  "all landed after restart (s)",
  "exit code, stop time",
  "server spans flushed",
);
row(...Array(11).fill("---"));
for (const f of restarts) {
  row(
    f.backends,
    f.signal,
    f.sent,
    f.accepted,
    f.lost,
    f.duplicateRows ?? "n/a (embedded)",
    f.redelivered,
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
  "service using it reported, sampled each second (and how soon after the outage began it first",
  "said not ready); *recovery* is the time from the dependency's",
  "return to the first success on the path that needs it.",
  "",
);
row(
  "dependency",
  "outage (s)",
  "sent",
  "accepted",
  "lost",
  "path needing it, during",
  "other path, during",
  "readyz during",
  "recovery (ms)",
  "all landed after return (s)",
);
row(...Array(10).fill("---"));
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
  "answered, so exports hang until their timeout and the bounded queue (2048 per signal and",
  "service) fills. The host warns once per signal, counts what it drops in the SDK metrics",
  "`otel_sdk_exporter_{span,log}_exported_total{error_type}` (failed exports) and",
  "`otel_sdk_processor_{span,log}_processed_total{error_type}` (queue full; figures below from",
  "app1's `/metrics`), says when export recovers, and serves every request.",
  "",
);
row(
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
row(...Array(10).fill("---"));
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
  "same partition). The poison goes to `Purchase.DLQ` at once (a `PermanentError` spends no",
  "retries) with its original value and headers plus `dlq.*` headers and the trace context; the",
  "good message behind it is handled.",
  "",
);
row(
  "backends",
  "good message handled",
  "dead letter",
  "messaging_client_dead_lettered_messages_total",
  "time (ms)",
);
row(...Array(5).fill("---"));
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
  "  host stays healthy. Unusual but valid content (SQL and Redis command look-alikes, emoji, 10 000",
  "  characters) round-trips byte for byte through PostgreSQL and Redis.",
  "- SQL is parameterised only: functions pass `$1…$n` and values separately; span attributes",
  "  carry the statement text, never values (`db.query.text`), and Redis spans `SET ? ? EX ?`.",
  "- Logs and spans carry message ids, never message contents, credentials or tokens; client",
  "  errors that quote commands are replaced by value-free ones before they are logged or recorded.",
  "- The Redis REST bridge listens on 127.0.0.1 only and answers 401 without its bearer token (a",
  "  random one per host start); every endpoint limits bodies (`MAX_BODY_BYTES`, 413) and headers",
  "  (16 KiB, 431).",
  "",
  "## What the semantics are",
  "",
  "- Kafka-triggered functions commit an offset only after its message was handled or",
  "  dead-lettered (at least once). A failure caused by the message is retried with exponential",
  "  backoff (`KAFKA_MAX_ATTEMPTS`, `KAFKA_RETRY_BACKOFF_MS`), then dead-lettered to",
  "  `<topic>.DLQ`; a `PermanentError` (malformed message, a 4xx from the next function) is",
  "  dead-lettered at once. An outage (`DependencyUnavailableError`: Redis, PostgreSQL, Kafka or",
  "  the next function unreachable or answering 503) spends no attempt: the message waits for the",
  "  dependency, its partition's lag grows, `/readyz` and the alerts say why.",
  "- Sinks are idempotent on the message id (primary key; `SET message:<id>`), so redelivery never",
  "  duplicates a row or a cache entry.",
  "- The embedded defaults are durable against a crash: the bus and the store append to files",
  "  before they acknowledge, PGlite keeps its data folder.",
  "",
);

const text = lines.join("\n");
if (quick && !Deno.args.includes("--write")) {
  console.log(text);
} else {
  const path = new URL("../docs/RELIABILITY.md", import.meta.url);
  await Deno.writeTextFile(path, text);
  // The document is checked by `deno fmt --check` like everything else.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path.pathname] }).output();
  say("wrote docs/RELIABILITY.md");
}
const lost = [...restarts, ...outages].reduce((sum, f) => sum + f.lost, 0);
console.log(`lost=${lost} scenarios=${restarts.length + outages.length + poisons.length}`);
