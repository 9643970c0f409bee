/**
 * Fault scenarios, each returning its figures: what was sent and accepted, what was lost or
 * duplicated, how long the fault lasted and how long recovery took. The reliability tests run
 * them briefly and assert on the figures; `deno task reliability` runs them longer and writes
 * docs/RELIABILITY.md.
 *
 * @example
 * ```ts
 * import { embeddedBackends, restartScenario } from "./_scenarios.ts";
 * const backends = await embeddedBackends();
 * const figures = await restartScenario(backends, {
 *   signal: "SIGKILL",
 *   loadSeconds: 6,
 *   stopAfterSeconds: 3,
 * });
 * await backends.close();
 * console.log(figures.lost); // 0
 * ```
 * @module
 */
import { DLQ_SUFFIX } from "../runtime/messaging/consumer.ts";
import { type FlowPath, HostProcess, Load, type LoadReport, TcpProxy } from "./_faults.ts";
import { startTestHost, type TestHost } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";
import { missingKcat, missingPostgres, missingRedis } from "../runtime/_test_needs.ts";
import { MockKafka } from "../testing/kafka_mock.ts";
import { OtlpReceiver } from "../testing/otlp_receiver.ts";

/** Where the scenario's host keeps its data. */
export interface Backends {
  readonly name: "embedded" | "real";
  /** Environment naming the backends (through proxies where a scenario cuts them). */
  readonly env: Record<string, string>;
  readonly kafka?: MockKafka;
  readonly postgresProxy?: TcpProxy;
  readonly redisProxy?: TcpProxy;
  close(): Promise<void>;
}

/** Why the real backends cannot be used here, if they cannot. */
export function realBackendsUnavailable(): string | undefined {
  const reasons = [missingPostgres(), missingRedis(), missingKcat()].filter(Boolean);
  return reasons.length > 0 ? reasons.join("; ") : undefined;
}

/** The embedded defaults in a fresh data folder. */
export async function embeddedBackends(): Promise<Backends> {
  const dataDir = await Deno.makeTempDir({ prefix: "otel-functions-faults-" });
  return {
    name: "embedded",
    env: { DATA_DIR: dataDir },
    close: () => Deno.remove(dataDir, { recursive: true }).catch(() => {}),
  };
}

/**
 * The real PostgreSQL and Redis named by the environment, each behind a proxy so a scenario can
 * take it away, and a Kafka mock cluster of the scenario's own so it can be frozen.
 */
export async function realBackends(): Promise<Backends> {
  const database = new URL(Deno.env.get("DATABASE_URL")!);
  const redis = new URL(Deno.env.get("REDIS_URL")!);
  const postgresProxy = await TcpProxy.start({
    hostname: database.hostname || "127.0.0.1",
    port: Number(database.port) || 5432,
  });
  const redisProxy = await TcpProxy.start({
    hostname: redis.hostname || "127.0.0.1",
    port: Number(redis.port) || 6379,
  });
  const kafka = await MockKafka.start();
  const dataDir = await Deno.makeTempDir({ prefix: "otel-functions-faults-" });
  database.host = `127.0.0.1:${postgresProxy.port}`;
  redis.host = `127.0.0.1:${redisProxy.port}`;
  return {
    name: "real",
    env: {
      DATA_DIR: dataDir,
      DATABASE_URL: database.href,
      REDIS_URL: redis.href,
      KAFKA_BROKERS: kafka.brokers,
    },
    kafka,
    postgresProxy,
    redisProxy,
    async close() {
      await Promise.all([postgresProxy.stop(), redisProxy.stop(), kafka.stop()]);
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The accepted messages not (yet) readable where the flow puts them. */
export async function notLanded(
  urls: { app3: string; app4: string },
  accepted: LoadReport["accepted"],
): Promise<string[]> {
  const checks: Array<[FlowPath, string, string]> = [
    ...accepted["/Message"].map((id) => ["/Message", id, `${urls.app3}/Message/${id}`] as const),
    ...accepted["/Message/Post-Message"].map((id) =>
      ["/Message/Post-Message", id, `${urls.app4}/Message/${id}`] as const
    ),
  ] as Array<[FlowPath, string, string]>;
  const missing: string[] = [];
  for (let i = 0; i < checks.length; i += 32) {
    await Promise.all(
      checks.slice(i, i + 32).map(async ([, id, url]) => {
        const response = await fetch(url).catch(() => undefined);
        await response?.body?.cancel();
        if (response?.status !== 200) missing.push(id);
      }),
    );
  }
  return missing;
}

/** A message counts as lost once it has not landed and nothing more landed for this long. */
export const LANDED_STALL_MS = 30_000;
/** How often the outage scenario asks `/readyz` during the outage. */
export const READYZ_SAMPLE_MS = 1000;

/**
 * Waits until every accepted message landed, as long as they keep landing: gives up once none
 * landed for `stallMs` (or after `capMs` in all), and returns the ids still missing then. A
 * backlog that drains slowly (the mock broker hands out one record batch per partition per
 * fetch) is waited for; a message that is really lost is not.
 */
async function waitLanded(
  urls: { app3: string; app4: string },
  accepted: LoadReport["accepted"],
  stallMs = LANDED_STALL_MS,
  capMs = 600_000,
): Promise<{ missing: string[]; ms: number }> {
  const started = Date.now();
  let missing = await notLanded(urls, accepted);
  let progressAt = Date.now();
  while (
    missing.length > 0 && Date.now() - progressAt < stallMs && Date.now() - started < capMs
  ) {
    await sleep(500);
    const left = new Set(missing);
    const remaining = {
      "/Message": accepted["/Message"].filter((id) => left.has(id)),
      "/Message/Post-Message": accepted["/Message/Post-Message"].filter((id) => left.has(id)),
    };
    const before = missing.length;
    missing = await notLanded(urls, remaining);
    if (missing.length < before) progressAt = Date.now();
  }
  return { missing, ms: Date.now() - started };
}

/** The lines a Kafka-triggered function writes when it is done with a message, by service. */
export const HANDLED_LINES = {
  app2: "message forwarded to app3",
  app4: "message cached",
} as const;

/**
 * How often a function's handler finished each message, from the host's log: `message` is the
 * line the handler writes when it is done ({@linkcode HANDLED_LINES}). A count above 1 is a
 * redelivery the idempotent sink absorbed.
 */
export function handledCounts(lines: readonly string[], message: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of lines) {
    if (!line.includes(`"message":"${message}"`)) continue;
    const id = JSON.parse(line).message_id as string;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

/** How many times a function's handler ran again for a message it had handled already. */
export function extraRuns(lines: readonly string[], message: string): number {
  let extra = 0;
  for (const count of handledCounts(lines, message).values()) extra += count - 1;
  return extra;
}

/** Redeliveries the Kafka-triggered functions absorbed, by the function's service. */
export function redelivered(lines: readonly string[]): { app2: number; app4: number } {
  return {
    app2: extraRuns(lines, HANDLED_LINES.app2),
    app4: extraRuns(lines, HANDLED_LINES.app4),
  };
}

function hostEnv(backends: Backends, receiver: OtlpReceiver): Record<string, string> {
  return {
    ...HostProcess.ports(),
    ...backends.env,
    HOST: "127.0.0.1",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    EXECUTOR_SCHEDULE: "0 0 0 1 1 *",
    SHUTDOWN_TIMEOUT_MS: "15000",
  };
}

/** Figures of a crash (SIGKILL) or graceful stop (SIGTERM) under load, then a restart. */
export interface RestartFigures {
  readonly backends: string;
  readonly signal: "SIGKILL" | "SIGTERM";
  readonly sent: number;
  readonly accepted: number;
  /** Accepted messages that never landed. */
  readonly lost: number;
  /** Extra handler runs for messages already handled, because of the restart (absorbed by idempotency). */
  readonly redelivered: { readonly app2: number; readonly app4: number };
  /** From the signal until the restarted host was ready. */
  readonly downMs: number;
  /** Exit code after SIGTERM, and how long the stop took. */
  readonly exitCode?: number;
  readonly stopMs?: number;
  /** Accepted requests before the stop whose server span reached the collector (SIGTERM). */
  readonly spansFlushed?: { expected: number; received: number };
  readonly landedAfterMs: number;
}

/** Stops the host with `signal` mid-stream, restarts it, and checks that nothing was lost. */
export async function restartScenario(
  backends: Backends,
  options: {
    signal: "SIGKILL" | "SIGTERM";
    loadSeconds: number;
    stopAfterSeconds: number;
    clients?: number;
  },
): Promise<RestartFigures> {
  const receiver = await OtlpReceiver.start();
  const env = hostEnv(backends, receiver);
  let host = await HostProcess.start(env);
  const first = host;
  const load = new Load(host.urls.app1, options.clients ?? 8, 5);
  let second: HostProcess | undefined;
  try {
    await sleep(options.stopAfterSeconds * 1000);
    const beforeStop = load.report;
    const stopped = Date.now();
    host.kill(options.signal);
    const status = await host.exited;
    const stopMs = Date.now() - stopped;
    second = host = await HostProcess.start(env);
    const downMs = Date.now() - stopped;
    await sleep(Math.max(0, options.loadSeconds - options.stopAfterSeconds) * 1000);
    const report = await load.stop();
    const all = [...report.accepted["/Message"], ...report.accepted["/Message/Post-Message"]];
    const landed = await waitLanded(host.urls, report.accepted);
    let spansFlushed: RestartFigures["spansFlushed"];
    if (options.signal === "SIGTERM") {
      // Every request answered 2xx before the stop had its server span exported at exit.
      const expected = beforeStop.accepted["/Message"].length +
        beforeStop.accepted["/Message/Post-Message"].length;
      const received = receiver.spans.filter((span) =>
        span.service === "app1" && span.resource["process.pid"] === first.pid &&
        span.kind === 2 && Number(span.attributes["http.response.status_code"]) < 300
      ).length;
      spansFlushed = { expected, received };
    }
    return {
      backends: backends.name,
      signal: options.signal,
      sent: report.sent,
      accepted: all.length,
      lost: landed.missing.length,
      redelivered: redelivered([...first.lines, ...host.lines]),
      downMs,
      exitCode: options.signal === "SIGTERM" ? status.code : undefined,
      stopMs: options.signal === "SIGTERM" ? stopMs : undefined,
      spansFlushed,
      landedAfterMs: landed.ms,
    };
  } finally {
    await load.stop();
    for (const running of [first, second]) {
      if (!running) continue;
      try {
        running.kill("SIGTERM");
      } catch {
        // already gone
      }
      await running.exited;
    }
    await receiver.stop();
  }
}

/** A dependency the outage scenario takes away. */
export type Dependency = "postgres" | "redis" | "kafka" | "otlp";

/** Figures of a dependency outage under load. */
export interface OutageFigures {
  readonly dependency: Dependency;
  readonly backends: string;
  readonly outageMs: number;
  readonly sent: number;
  readonly accepted: number;
  readonly lost: number;
  /** Answers to the path that needs the dependency, during the outage. */
  readonly duringOutage: Record<string, number>;
  /** Answers to the other path, during the outage (it should keep working). */
  readonly otherPathDuring: Record<string, number>;
  /** What `/readyz` of the service using the dependency said during the outage, each second. */
  readonly readyzDuring: number[];
  /** From the outage's start to the first `/readyz` answer that was not 200 (-1: none). */
  readonly readyzDetectedMs: number;
  /**
   * What the recovery probe (a call that needs the dependency: Redis: app4's read of a key;
   * PostgreSQL and Kafka: app1's path through them) answered during the outage (0: no answer),
   * which shows the probe does need it. Not probed for OTLP, which no call needs.
   */
  readonly probeDuring?: number;
  /** From the dependency's return to the recovery probe's first success. */
  readonly recoveryMs: number;
  /** From the dependency's return until every accepted message had landed. */
  readonly landedAfterMs: number;
  /** OTLP outage: whether the endpoint refused connections or swallowed them. */
  readonly otlpMode?: "refuse" | "blackhole";
  /** Telemetry dropped (OTLP outage): counted by reason. */
  readonly telemetryDropped?: Record<string, number>;
  /** OTLP outage: warnings logged about failing export, per signal, and recoveries logged. */
  readonly exportWarnings?: Record<string, number>;
  readonly exportRecoveries?: number;
  /** OTLP outage: spans received after the endpoint came back. */
  readonly spansAfter?: number;
}

/** Takes `dependency` away for `outageSeconds` under load, gives it back, and measures. */
export async function outageScenario(
  backends: Backends,
  dependency: Dependency,
  options: {
    outageSeconds: number;
    otlpMode?: "refuse" | "blackhole";
    clients?: number;
    /** More settings for the host. */
    env?: Record<string, string>;
  },
): Promise<OutageFigures> {
  const receiver = await OtlpReceiver.start();
  const otlpProxy = await TcpProxy.start({ hostname: "127.0.0.1", port: receiver.port });
  const test = await startTestHost({
    env: {
      ...backends.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpProxy.port}`,
      EXECUTOR_SCHEDULE: "0 0 0 1 1 *",
      ...options.env,
    },
    receiver,
    services: ["app1", "app2", "app3", "app4"],
  });
  const needs: Record<Dependency, { path: FlowPath; service: "app1" | "app3" | "app4" }> = {
    postgres: { path: "/Message", service: "app3" },
    redis: { path: "/Message/Post-Message", service: "app4" },
    kafka: { path: "/Message/Post-Message", service: "app1" },
    otlp: { path: "/Message", service: "app1" },
  };
  const { path, service } = needs[dependency];
  const other: FlowPath = path === "/Message" ? "/Message/Post-Message" : "/Message";
  // A call that needs the dependency, probed on its own. Redis: app4's read of a key (a 404 is
  // Redis answering too); the others: app1's path through it.
  const probe = (): Promise<Response> =>
    dependency === "redis"
      ? fetch(`${test.url("app4")}/Message/${crypto.randomUUID()}`)
      : fetch(`${test.url("app1")}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: "recovery probe" }),
      });
  const load = new Load(test.url("app1"), options.clients ?? 4, 20);
  try {
    await sleep(1500);
    const before = load.report;
    const outageStarted = Date.now();
    if (dependency === "postgres") await backends.postgresProxy!.cut("refuse");
    if (dependency === "redis") await backends.redisProxy!.cut("refuse");
    if (dependency === "kafka") backends.kafka!.pause();
    if (dependency === "otlp") await otlpProxy.cut(options.otlpMode ?? "refuse");
    // The recovery probe, once during the outage: it must fail then, or it probes nothing.
    const probing = dependency === "otlp"
      ? undefined
      : sleep(1000).then(() =>
        probe().then(async (response) => {
          await response.body?.cancel();
          return response.status;
        }, () => 0)
      );
    const readyzDuring: number[] = [];
    let readyzDetectedMs = -1;
    while (Date.now() - outageStarted < options.outageSeconds * 1000) {
      const response = await fetch(`${test.url(service)}/readyz`).catch(() => undefined);
      await response?.body?.cancel();
      const status = response?.status ?? 0;
      if (status !== 200 && readyzDetectedMs < 0) readyzDetectedMs = Date.now() - outageStarted;
      readyzDuring.push(status);
      await sleep(READYZ_SAMPLE_MS);
    }
    const during = load.report;
    const probeDuring = await probing;
    if (dependency === "postgres") await backends.postgresProxy!.restore();
    if (dependency === "redis") await backends.redisProxy!.restore();
    if (dependency === "kafka") backends.kafka!.resume();
    if (dependency === "otlp") await otlpProxy.restore();
    const restored = Date.now();
    const outageMs = restored - outageStarted;
    const spansAtRestore = receiver.spans.length;
    let recoveryMs = -1;
    while (Date.now() - restored < 60_000) {
      const response = await probe().catch(() => undefined);
      await response?.body?.cancel();
      if (response?.ok || (dependency === "redis" && response?.status === 404)) {
        recoveryMs = Date.now() - restored;
        break;
      }
      await sleep(100);
    }
    await sleep(1500);
    const report = await load.stop();
    const landed = await waitLanded(
      { app3: test.url("app3"), app4: test.url("app4") },
      report.accepted,
    );
    const figures: OutageFigures = {
      dependency,
      backends: backends.name,
      outageMs,
      sent: report.sent,
      accepted: report.accepted["/Message"].length +
        report.accepted["/Message/Post-Message"].length,
      lost: landed.missing.length,
      duringOutage: delta(before, during, path),
      otherPathDuring: delta(before, during, other),
      readyzDuring,
      readyzDetectedMs,
      ...(probeDuring === undefined ? {} : { probeDuring }),
      recoveryMs,
      landedAfterMs: Date.now() - restored,
    };
    if (dependency !== "otlp") return figures;
    await waitFor(
      "spans after the collector came back",
      () => receiver.spans.length > spansAtRestore || undefined,
    );
    const metrics = await (await fetch(`${test.url("app1")}/metrics`)).text();
    // What was lost: spans and records the exporter failed to deliver, or the queue dropped.
    const dropped: Record<string, number> = {};
    const signals: Record<string, string> = { span: "traces", log: "logs" };
    for (
      const match of metrics.matchAll(
        /^otel_sdk_(?:exporter_(span|log)_exported|processor_(span|log)_processed)_total\{[^}]*error_type="([\w.-]+)"[^}]*\} (\d+)/gm,
      )
    ) {
      // An export failure is one reason whatever its error type; a processor names its own.
      const key = `${signals[match[1] ?? match[2]]} ${match[1] ? "export_failed" : match[3]}`;
      dropped[key] = (dropped[key] ?? 0) + Number(match[4]);
    }
    const warnings: Record<string, number> = {};
    for (const line of test.logs) {
      if (!line.includes('"OTLP export failing')) continue;
      const signal = JSON.parse(line).signal as string;
      warnings[signal] = (warnings[signal] ?? 0) + 1;
    }
    return {
      ...figures,
      otlpMode: options.otlpMode ?? "refuse",
      telemetryDropped: dropped,
      exportWarnings: warnings,
      exportRecoveries: test.logs.filter((line) => line.includes('"OTLP export recovered"')).length,
      spansAfter: receiver.spans.length - spansAtRestore,
    };
  } finally {
    await load.stop();
    await test.stop();
    await otlpProxy.stop();
    await receiver.stop();
    if (dependency === "kafka") backends.kafka?.resume();
  }
}

/** Answers to `path` between two load reports, by status. */
function delta(before: LoadReport, after: LoadReport, path: FlowPath): Record<string, number> {
  const answers: Record<string, number> = {};
  for (const [status, count] of Object.entries(after.byPath[path])) {
    const more = count - (before.byPath[path][status] ?? 0);
    if (more > 0) answers[status] = more;
  }
  return answers;
}

/** Figures of a poison message on a partition followed by a good one. */
export interface PoisonFigures {
  readonly backends: string;
  /** The good message behind the poison was handled. */
  readonly goodLanded: boolean;
  readonly deadLetter?: { value: string; headers: Record<string, string> };
  readonly failedMetric: number;
  readonly msToLand: number;
}

/** Publishes a malformed message, then a good one with the same key (so the same partition). */
export async function poisonScenario(backends: Backends): Promise<PoisonFigures> {
  const test: TestHost = await startTestHost({
    env: { ...backends.env, EXECUTOR_SCHEDULE: "0 0 0 1 1 *" },
    services: ["app1", "app2", "app3", "app4"],
  });
  try {
    const bus = test.host.bus!;
    const id = crypto.randomUUID();
    const started = Date.now();
    await bus.send("Purchase", { key: id, value: "{not json", headers: {} });
    const published = await fetch(`${test.url("app1")}/Message/Post-Message`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, content: "behind the poison" }),
    });
    await published.body?.cancel();
    const goodLanded = await waitFor("the good message behind the poison", async () => {
      const response = await fetch(`${test.url("app4")}/Message/${id}`);
      await response.body?.cancel();
      return response.status === 200 || undefined;
    }).catch(() => false);
    const msToLand = Date.now() - started;
    let deadLetter: PoisonFigures["deadLetter"];
    const inspector = await bus.subscribe(
      `dlq-inspector-${crypto.randomUUID()}`,
      "Purchase" + DLQ_SUFFIX,
      (batch, control) => {
        for (const message of batch.messages) {
          if (message.key === id) {
            deadLetter = { value: message.value, headers: { ...message.headers } };
          }
          control.resolveOffset(message.offset);
        }
        return Promise.resolve();
      },
    );
    await waitFor("the dead letter", () => deadLetter, 30_000).catch(() => undefined);
    await inspector.stop();
    const metrics = await (await fetch(`${test.url("app2")}/metrics`)).text();
    const failed =
      /^messaging_client_dead_lettered_messages_total\{messaging_system="kafka",messaging_destination_name="Purchase",messaging_consumer_group_name="app2"\} (\d+)/m
        .exec(metrics);
    return {
      backends: backends.name,
      goodLanded,
      deadLetter,
      failedMetric: Number(failed?.[1] ?? 0),
      msToLand,
    };
  } finally {
    await test.stop();
  }
}
