/**
 * Seeded chaos: the flow under steady load (`runLoad`) while, at times drawn from the seed, the
 * host process is killed (SIGKILL) or stopped (SIGTERM) and started again, PostgreSQL and Redis
 * refuse or swallow connections (a TCP proxy in front of each), the Kafka broker freezes
 * (SIGSTOP), the OTLP endpoint refuses or swallows exports, and a fault flag (flags.json) is
 * switched on for a while. The same seed gives the same
 * faults at the same times. At the end: what was accepted, landed, lost, redelivered and
 * dead-lettered (and why), the longest time a partition made no progress (and how much of it no
 * injected fault explains), and the longest time a request waited.
 *
 * @example
 * ```ts
 * import { formatChaos, runChaos } from "./_chaos.ts";
 * const report = await runChaos({ seed: 7, durationMs: 20_000, backends: "embedded" });
 * console.log(formatChaos(report));
 * ```
 * @module
 */
import { type MessageRecord, REQUEST_DEADLINE_MS, runLoad } from "../load/mod.ts";
import { OtlpReceiver } from "../testing/otlp_receiver.ts";
import { random } from "./_bad_inputs.ts";
import { FlagSource } from "../runtime/flags/source.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { HostProcess, TcpProxy } from "./_faults.ts";
import {
  type Backends,
  embeddedBackends,
  HANDLED_LINES,
  handledCounts,
  realBackends,
  redelivered,
} from "./_scenarios.ts";

/** What can go wrong. */
export type FaultKind =
  | "host-sigkill"
  | "host-sigterm"
  | "postgres-refuse"
  | "postgres-blackhole"
  | "redis-refuse"
  | "redis-blackhole"
  | "broker-freeze"
  | "otlp-refuse"
  | "otlp-blackhole"
  | "flag";

/** The fault flags a run may switch on (flags.json), and the variants it picks from. */
export const FLAG_CHOICES: Readonly<Record<string, readonly string[]>> = {
  app3StoreFailure: ["25%", "50%", "100%"],
  app3PublishFailure: ["25%", "50%", "100%"],
  app4CacheFailure: ["25%", "50%", "100%"],
  app1SlowMs: ["250ms", "1s", "2s"],
  app2ConsumeDelayMs: ["100ms", "500ms", "1s"],
};

/** The faults each kind of backends can suffer (the embedded ones live inside the host). */
export const FAULT_KINDS: Record<"embedded" | "real", readonly FaultKind[]> = {
  embedded: ["host-sigkill", "host-sigterm", "otlp-refuse", "otlp-blackhole", "flag"],
  real: [
    "host-sigkill",
    "host-sigterm",
    "postgres-refuse",
    "postgres-blackhole",
    "redis-refuse",
    "redis-blackhole",
    "broker-freeze",
    "otlp-refuse",
    "otlp-blackhole",
    "flag",
  ],
};

/** One injected fault, in milliseconds from the start of the run. */
export interface Fault {
  readonly kind: FaultKind;
  readonly atMs: number;
  /** Planned length; a host fault lasts until the host is ready again. */
  readonly forMs: number;
  /** For a `flag` fault: which flag is switched to which variant (then back to off). */
  readonly flag?: { readonly name: string; readonly variant: string };
}

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly backends: "embedded" | "real";
  /** Messages per second, half on each path (default 40). */
  readonly rate?: number;
  /** How long a fault lasts, at least and at most (default 1.5-6 s, 3-20 s for runs over 2 min). */
  readonly faultMs?: readonly [number, number];
  /** Quiet time between faults, at least and at most (default 1-4 s, 5-30 s over 2 min). */
  readonly gapMs?: readonly [number, number];
  /** Progress lines. */
  readonly say?: (line: string) => void;
}

/** A span of time, in Unix milliseconds. */
interface Window {
  readonly from: number;
  readonly to: number;
}

/** What a chaos run measured. */
export interface ChaosReport {
  readonly seed: number;
  readonly backends: "embedded" | "real";
  readonly durationMs: number;
  readonly rate: number;
  /** The faults as they happened (host faults last until the host was ready again). */
  readonly faults: ReadonlyArray<Fault & { readonly tookMs: number }>;
  readonly sent: number;
  /** Answers by status ("error": refused, reset or timed out). */
  readonly statuses: Readonly<Record<string, number>>;
  readonly accepted: number;
  readonly landed: number;
  /** Accepted, never landed, and not dead-lettered either. */
  readonly lost: number;
  readonly lostIds: readonly string[];
  /** Accepted messages that went to a dead-letter topic instead of landing (a fault flag's doing). */
  readonly deadLetteredAccepted: number;
  /** Extra runs of a sink's handler for a message it had handled already (absorbed by idempotency). */
  readonly redelivered: { readonly app2: number; readonly app4: number };
  /** Messages each Kafka-triggered function finished at least once (what redeliveries add to). */
  readonly handled: { readonly app2: number; readonly app4: number };
  /** Accepted messages of the Kafka path (app1 → app2 → app3 → app4) that landed in app4. */
  readonly landedViaKafka: number;
  /** Dead-lettered messages by function and error type. */
  readonly deadLettered: Readonly<Record<string, number>>;
  /** The longest time a Purchase partition with messages waiting saw none of them land. */
  readonly longestStall: {
    readonly partition: number;
    readonly ms: number;
    /** The part of the longest unexplained stall no injected fault (or its recovery) covers. */
    readonly unexplainedMs: number;
  };
  /** The longest time a request waited for its answer (or its failure). */
  readonly longestWaitMs: number;
  /** Requests with no answer within the load's deadline. */
  readonly overDeadline: number;
  readonly deadlineMs: number;
  /** How long a partition may go without progress that no fault explains. */
  readonly stallBudgetMs: number;
  readonly hostStarts: number;
  readonly passed: boolean;
}

/** After a fault ends, recovery (rejoining the group, reconnecting) still counts as the fault. */
export const RECOVERY_MS = 10_000;
/**
 * Outside faults, a message failing every attempt holds its partition for the backoffs between
 * its attempts (`KAFKA_RETRY_BACKOFF_MS` doubling, `KAFKA_MAX_ATTEMPTS` attempts; the host's
 * defaults, which the run uses).
 */
export function retryBackoffsMs(
  { kafkaMaxAttempts, kafkaRetryBackoffMs }: Pick<
    Config,
    "kafkaMaxAttempts" | "kafkaRetryBackoffMs"
  > = loadConfig({}),
): number {
  return kafkaRetryBackoffMs * (2 ** (kafkaMaxAttempts - 1) - 1);
}
/** Besides the backoffs: running the attempts, the dead letter, and the landing poll's lag. */
const HANDLING_ALLOWANCE_MS = 2_000;
/** How long a partition may go without progress that no fault explains: its retry budget. */
const STALL_BUDGET_MS = retryBackoffsMs() + HANDLING_ALLOWANCE_MS;

/** The faults of a run, drawn from `seed`: the same seed gives the same plan. */
export function planFaults(
  seed: number,
  durationMs: number,
  kinds: readonly FaultKind[],
  faultMs: readonly [number, number],
  gapMs: readonly [number, number],
): Fault[] {
  const next = random(seed);
  const between = ([low, high]: readonly [number, number]) =>
    Math.round(low + next() * (high - low));
  const faults: Fault[] = [];
  // Quiet at the start (the load settles) and at the end (the last fault is healed before the
  // load stops, so what was accepted can land).
  let at = Math.min(3000, durationMs / 10) + between(gapMs);
  const last = durationMs - Math.min(5000, durationMs / 6);
  while (true) {
    const kind = kinds[Math.floor(next() * kinds.length)];
    const forMs = kind.startsWith("host-") ? 0 : between(faultMs);
    let flag: Fault["flag"];
    if (kind === "flag") {
      const names = Object.keys(FLAG_CHOICES);
      const name = names[Math.floor(next() * names.length)];
      const variants = FLAG_CHOICES[name];
      flag = { name, variant: variants[Math.floor(next() * variants.length)] };
    }
    if (at + forMs > last) break;
    faults.push({ kind, atMs: at, forMs, ...(flag ? { flag } : {}) });
    at += forMs + between(gapMs) + (kind.startsWith("host-") ? 3000 : 0);
  }
  return faults;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Runs the flow under load and the seed's faults; see the module's documentation. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.say ?? (() => {});
  const rate = options.rate ?? 40;
  const long = options.durationMs > 120_000;
  const faultMs = options.faultMs ?? (long ? [3000, 20_000] : [1500, 6000]);
  const gapMs = options.gapMs ?? (long ? [5000, 30_000] : [1000, 4000]);
  const plan = planFaults(
    options.seed,
    options.durationMs,
    FAULT_KINDS[options.backends],
    faultMs,
    gapMs,
  );
  say(`seed ${options.seed}: ${plan.length} faults planned over ${options.durationMs / 1000} s`);
  const backends: Backends = options.backends === "real"
    ? await realBackends()
    : await embeddedBackends();
  const receiver = await OtlpReceiver.start({ keep: false });
  const otlp = await TcpProxy.start({ hostname: "127.0.0.1", port: receiver.port });
  // The fault flags, all off, in a file of the run's own that the host polls.
  const flagsFile = `${backends.env.DATA_DIR}/flags.json`;
  await Deno.copyFile(new URL("../flags.json", import.meta.url), flagsFile);
  const quiet = { info() {}, warn() {}, error() {} };
  const flags = await FlagSource.open(flagsFile, { log: quiet });
  const env = {
    ...HostProcess.ports(),
    ...backends.env,
    HOST: "127.0.0.1",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.port}`,
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    EXECUTOR_SCHEDULE: "0 0 0 1 1 *",
    SHUTDOWN_TIMEOUT_MS: "15000",
    CONSOLE: "off",
    LOG_FORMAT: "json",
    FLAGS_FILE: flagsFile,
  };
  const hosts: HostProcess[] = [];
  let host = await HostProcess.start(env);
  hosts.push(host);
  const done: Array<Fault & { tookMs: number }> = [];
  const windows: Window[] = [];
  let running = true;
  const heal: Array<() => Promise<void> | void> = [];
  try {
    const started = Date.now();
    const load = runLoad({
      target: host.urls.app1,
      rate,
      durationMs: options.durationMs,
      path: "both",
      landing: { kind: "http", app3: host.urls.app3, app4: host.urls.app4 },
      landingTimeoutMs: 120_000,
      keepMessages: true,
      // A dead-lettered message will not land; its dead letter is where it went.
      settledElsewhere: (id) => deadLetters(hosts.flatMap((h) => h.lines)).ids.has(id),
    });
    const restart = async () => {
      await host.exited;
      host = await HostProcess.start(env);
      hosts.push(host);
    };
    for (const fault of plan) {
      await sleep(started + fault.atMs - Date.now());
      if (!running) break;
      const from = Date.now();
      say(`${((from - started) / 1000).toFixed(1)} s: ${describeFault(fault)}`);
      switch (fault.kind) {
        case "host-sigkill":
          host.kill("SIGKILL");
          await restart();
          break;
        case "host-sigterm":
          host.kill("SIGTERM");
          await restart();
          break;
        case "postgres-refuse":
        case "postgres-blackhole":
        case "redis-refuse":
        case "redis-blackhole": {
          const proxy = fault.kind.startsWith("postgres")
            ? backends.postgresProxy!
            : backends.redisProxy!;
          await proxy.cut(fault.kind.endsWith("refuse") ? "refuse" : "blackhole");
          heal.push(() => proxy.restore());
          break;
        }
        case "broker-freeze":
          backends.kafka!.pause();
          heal.push(() => backends.kafka!.resume());
          break;
        case "otlp-refuse":
        case "otlp-blackhole":
          await otlp.cut(fault.kind === "otlp-refuse" ? "refuse" : "blackhole");
          heal.push(() => otlp.restore());
          break;
        case "flag": {
          const { name, variant } = fault.flag!;
          await flags.setVariant(name, variant);
          heal.push(async () => void await flags.setVariant(name, "off"));
          break;
        }
      }
      await sleep(from + fault.forMs - Date.now());
      for (const undo of heal.splice(0)) await undo();
      const to = Date.now();
      done.push({ ...fault, tookMs: to - from });
      windows.push({ from, to: to + RECOVERY_MS });
    }
    const report = await load;
    running = false;
    const messages = report.messages ?? [];
    const lines = hosts.flatMap((h) => h.lines);
    const dead = deadLetters(lines);
    // A dead-lettered message stops waiting when it is dead-lettered.
    const stall = longestStall(
      messages.map((m) => dead.ids.has(m.id) ? { ...m, landedAt: dead.ids.get(m.id) } : m),
      windows,
    );
    const unlanded = messages.filter((m) =>
      typeof m.status === "number" && m.status >= 200 && m.status < 300 &&
      m.landedAt === undefined
    );
    const lostIds = unlanded.filter((m) => !dead.ids.has(m.id)).map((m) => m.id);
    const longestWaitMs = Math.max(0, ...messages.map((m) => m.settledMs).filter(Number.isFinite));
    const overDeadline = messages.filter((m) => m.settledMs >= REQUEST_DEADLINE_MS).length;
    const result: Omit<ChaosReport, "passed"> = {
      seed: options.seed,
      backends: options.backends,
      durationMs: options.durationMs,
      rate,
      faults: done,
      sent: report.sent,
      statuses: report.statuses,
      accepted: report.accepted,
      landed: report.landed,
      lost: lostIds.length,
      lostIds: lostIds.slice(0, 20),
      deadLetteredAccepted: unlanded.length - lostIds.length,
      redelivered: redelivered(lines),
      handled: {
        app2: handledCounts(lines, HANDLED_LINES.app2).size,
        app4: handledCounts(lines, HANDLED_LINES.app4).size,
      },
      landedViaKafka: messages.filter((m) =>
        m.route === "post-message" && m.landedAt !== undefined
      ).length,
      deadLettered: dead.counts,
      longestStall: stall,
      longestWaitMs: Math.round(longestWaitMs),
      overDeadline,
      deadlineMs: REQUEST_DEADLINE_MS,
      stallBudgetMs: STALL_BUDGET_MS,
      hostStarts: hosts.length,
    };
    return {
      ...result,
      passed: result.lost === 0 && result.accepted > 0 && overDeadline === 0 &&
        stall.unexplainedMs <= STALL_BUDGET_MS,
    };
  } finally {
    running = false;
    for (const undo of heal.splice(0)) await undo();
    try {
      host.kill("SIGTERM");
    } catch {
      // already gone
    }
    await host.exited;
    flags.close();
    await otlp.stop();
    await receiver.stop();
    await backends.close();
  }
}

/**
 * Dead letters by `function error_type: error message` (why), and when each message was
 * dead-lettered (Unix ms, by message id), from the host's log.
 */
function deadLetters(
  lines: readonly string[],
): { counts: Record<string, number>; ids: Map<string, number> } {
  const counts: Record<string, number> = {};
  const ids = new Map<string, number>();
  for (const line of lines) {
    if (!line.includes('"message":"message dead-lettered"')) continue;
    const record = JSON.parse(line);
    const why = typeof record.error === "string" ? record.error : record.error?.message;
    const key = `${record.function} ${record.error_type}${why ? `: ${why}` : ""}`;
    counts[key] = (counts[key] ?? 0) + 1;
    if (typeof record.message_id === "string") {
      ids.set(record.message_id, Date.parse(record.time));
    }
  }
  return { counts, ids };
}

/**
 * The longest time a Purchase partition had accepted messages waiting (from when they were sent)
 * and saw none of them land (app4's cache timestamp ends the wait), and the longest such stretch
 * that the fault windows (each with its recovery time) do not cover.
 */
export function longestStall(
  messages: readonly MessageRecord[],
  faults: readonly Window[],
): ChaosReport["longestStall"] {
  let worst = { partition: -1, ms: 0, unexplainedMs: 0 };
  let worstUnexplained = 0;
  const partitions = new Set(messages.map((m) => m.partition).filter((p) => p !== undefined));
  for (const partition of partitions) {
    const mine = messages.filter((m) => m.partition === partition);
    const events = [
      ...mine.map((m) => ({ at: m.sentAt, delta: 1 })),
      ...mine.filter((m) => m.landedAt !== undefined).map((m) => ({ at: m.landedAt!, delta: -1 })),
    ].sort((a, b) => a.at - b.at || a.delta - b.delta);
    let pending = 0;
    let since = 0;
    const stall = (to: number) => {
      const ms = to - since;
      const unexplained = uncovered({ from: since, to }, faults);
      if (ms > worst.ms) worst = { partition: partition!, ms, unexplainedMs: unexplained };
      worstUnexplained = Math.max(worstUnexplained, unexplained);
    };
    for (const event of events) {
      if (event.delta < 0 && pending > 0) stall(event.at);
      if (event.delta > 0 && pending === 0) since = event.at;
      if (event.delta < 0) since = event.at;
      pending += event.delta;
    }
    if (pending > 0) stall(Date.now());
  }
  return { ...worst, unexplainedMs: Math.round(worstUnexplained), ms: Math.round(worst.ms) };
}

/** How much of `window` none of `cover` overlaps, in milliseconds. */
function uncovered(window: Window, cover: readonly Window[]): number {
  const parts = cover
    .map((c) => ({ from: Math.max(c.from, window.from), to: Math.min(c.to, window.to) }))
    .filter((c) => c.to > c.from)
    .sort((a, b) => a.from - b.from);
  let covered = 0;
  let reach = window.from;
  for (const part of parts) {
    if (part.to <= reach) continue;
    covered += part.to - Math.max(part.from, reach);
    reach = part.to;
  }
  return window.to - window.from - covered;
}

/** A fault as words: its kind, and for a flag which one and how far. */
export function describeFault(fault: Fault): string {
  return fault.flag ? `flag ${fault.flag.name}=${fault.flag.variant}` : fault.kind;
}

/** The report as lines of text. */
export function formatChaos(report: ChaosReport): string {
  const faults = Object.entries(
    report.faults.reduce<Record<string, number>>((counts, fault) => {
      const name = describeFault(fault);
      counts[name] = (counts[name] ?? 0) + 1;
      return counts;
    }, {}),
  ).map(([kind, count]) => `${count}×${kind}`).join(", ");
  const entries = (record: Readonly<Record<string, number>>) =>
    Object.entries(record).map(([key, count]) => `${count}×${key}`).join(", ") || "none";
  return [
    `chaos seed ${report.seed}, ${report.backends} backends, ${
      report.durationMs / 1000
    } s at ${report.rate} msg/s`,
    `faults: ${report.faults.length} (${
      faults || "none"
    }); host started ${report.hostStarts} times`,
    `sent ${report.sent} (${
      entries(report.statuses)
    }), accepted ${report.accepted}, landed ${report.landed}, lost ${report.lost}`,
    `redelivered: app2 ${report.redelivered.app2} (of ${report.handled.app2} handled), app4 ${report.redelivered.app4} (of ${report.handled.app4}); dead-lettered: ${
      entries(report.deadLettered)
    }`,
    `longest stall: partition ${report.longestStall.partition}, ${report.longestStall.ms} ms (${report.longestStall.unexplainedMs} ms no fault explains; budget ${report.stallBudgetMs} ms)`,
    `longest wait for an answer: ${report.longestWaitMs} ms; over the ${report.deadlineMs} ms deadline: ${report.overDeadline}`,
    report.passed ? "passed" : "FAILED",
  ].join("\n");
}
