/**
 * Finds where a server under test spends its time: runs it with `--cpu-prof` on the server CPU,
 * drives it with wrk like the benchmark does, stops it (the profile is written at exit) and prints
 * the functions with the most self time and the most inclusive time.
 *
 * ```sh
 * deno run -A bench/profile.ts host [seconds]      # host, full telemetry
 * deno run -A bench/profile.ts host_off [seconds]  # host, telemetry off
 * deno run -A bench/profile.ts bare [seconds]      # the limit
 * deno run -A bench/profile.ts kafka [messages]    # the host's Kafka consumer path
 * deno run -A bench/profile.ts flow [seconds] [rate] # the whole host (app1-app4) on the Kafka
 *                                                  # path, real PostgreSQL and Redis, mock broker
 * ```
 * @module
 */
import { MESSAGE_PATH } from "./handler.ts";
import { preload } from "./kafka.ts";
import { MockKafka } from "../testing/kafka_mock.ts";
import { type Sink, startSink } from "./otlp_sink.ts";
import { type Cpus, detectCpus, freePort, pinSelf, spawnChild, waitForHttp } from "./process.ts";
import { runWrk } from "./wrk.ts";
import { startFlowHost } from "./flow.ts";
import { runLoad } from "../load/mod.ts";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A function's share of the samples. */
export interface ProfileEntry {
  readonly name: string;
  readonly selfPercent: number;
  readonly totalPercent: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/node_modules\/\.deno\//, "npm:").replace(
    /^file:\/\/.*?\/(bench|runtime|functions)\//,
    "$1/",
  );
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

/** Where time goes, by the first of these found walking up from the sampled frame. */
const CATEGORIES: ReadonlyArray<readonly [string, RegExp]> = [
  ["outside JS (Deno's Rust HTTP server, I/O, the kernel)", /^\(idle\)/],
  ["garbage collection", /^\(garbage collector\)/],
  ["OTLP export (serialization, transport)", /otlp-|exporter-|runtime\/telemetry\/batcher/],
  ["log line (JSON, stdout, OTLP log record)", /runtime\/log\.ts|sdk-logs|^sink runtime/],
  [
    "spans (SDK start/end, propagation)",
    /sdk-trace|runtime\/telemetry\/propagation|api\/build\/src\/trace/,
  ],
  ["metrics (prom-client)", /prom-client/],
  [
    "the function (handler, readMessage, c.json)",
    /bench\/handler|functions\/_shared|hono\/dist\/context/,
  ],
  ["Kafka client (kafkajs)", /kafkajs/],
  [
    "host middleware and context manager",
    /runtime\/(http|messaging)|prom-client|context-async-hooks|api\/build\/src\/(api|context)|deno_node\/async_hooks/,
  ],
  ["Hono routing and composition", /hono@/],
];

/** Self time by {@linkcode CATEGORIES}, in percent of all samples; the rest is "other". */
export function categorize(profile: CpuProfile): Array<[string, number]> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const weight = profile.timeDeltas[index] ?? 0;
    all += weight;
    let category = "other (Deno's JS glue for requests and responses, timers, …)";
    search: for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      for (const [title, pattern] of CATEGORIES) {
        if (pattern.test(name)) {
          category = title;
          break search;
        }
      }
    }
    totals.set(category, (totals.get(category) ?? 0) + weight);
  });
  return [...totals].map(([name, weight]): [string, number] => [name, 100 * weight / all])
    .sort((a, b) => b[1] - a[1]);
}

/** Self and inclusive time per function of a `.cpuprofile`, largest first. */
export function summarize(profile: CpuProfile): ProfileEntry[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const weight = profile.timeDeltas[index] ?? 0;
    all += weight;
    const leaf = byId.get(id)!;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + weight);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + weight);
    }
  });
  return [...total.keys()].map((name) => ({
    name,
    selfPercent: 100 * (self.get(name) ?? 0) / all,
    totalPercent: 100 * (total.get(name) ?? 0) / all,
  }));
}

/** Runs the host's consumer path over `messages` preloaded messages under the profiler. */
async function profileKafka(dir: string, messages: number, cpus: Cpus, sink: Sink): Promise<void> {
  const mock = await MockKafka.start({ cpu: cpus.pinned ? cpus.load : undefined });
  try {
    const topic = `profile-${Date.now()}`;
    await preload(mock.brokers, topic, messages);
    const child = spawnChild(
      [
        ...[Deno.execPath(), "run", "-A", "--cpu-prof", `--cpu-prof-dir=${dir}`],
        new URL("./kafka_consumer.ts", import.meta.url).pathname,
        ...["--mode", "host", "--brokers", mock.brokers, "--topic", topic, "--group", topic],
        ...["--count", String(messages), "--result", `${dir}/result.json`],
      ],
      {
        logFile: `${dir}/consumer.log`,
        cpus,
        cpu: cpus.server,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint },
      },
    );
    await child.exited;
    const result = JSON.parse(Deno.readTextFileSync(`${dir}/result.json`));
    console.log(
      `kafka: ${(result.count / result.ms * 1000).toFixed(0)} msg/s (under the profiler); ${
        (await sink.stats()).spans
      } spans exported`,
    );
  } finally {
    await mock.stop();
  }
}

async function main(): Promise<void> {
  const variant = Deno.args[0] ?? "host";
  const seconds = Number(Deno.args[1] ?? 10);
  const cpus = await detectCpus();
  await pinSelf(cpus);
  const dir = await Deno.makeTempDir({ prefix: "bench-profile-" });
  const sink = await startSink({ logFile: `${dir}/sink.log`, cpus });
  if (variant === "kafka") await profileKafka(dir, Number(Deno.args[1] ?? 50_000), cpus, sink);
  else if (variant === "flow") {
    await profileFlow(dir, seconds, Number(Deno.args[2] ?? 1000), cpus, sink);
  } else await profileHttp(variant, seconds, dir, cpus, sink);
  await sink.stop();
  report(dir);
}

/**
 * Runs the whole host (app1-app4, full telemetry, the console on as `deno task start` has it)
 * against PostgreSQL and Redis (`DATABASE_URL`, `REDIS_URL` or the local defaults) and the mock
 * broker under the profiler, loaded on the Kafka path at `rate` messages/s like the throughput job.
 */
async function profileFlow(
  dir: string,
  seconds: number,
  rate: number,
  cpus: Cpus,
  sink: Sink,
): Promise<void> {
  const mock = await MockKafka.start({ cpu: cpus.pinned ? cpus.load : undefined });
  const backends = {
    databaseUrl: Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
    redisUrl: Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379",
    kafkaBrokers: mock.brokers,
  };
  try {
    const options = { backends, rate, seconds, cpus, workDir: dir, progress: console.log };
    const host = await startFlowHost(options, sink, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    const landing = { kind: "stores", ...backends } as const;
    const load = (ms: number, perSecond: number) =>
      runLoad({
        target: host.urls.app1,
        rate: perSecond,
        durationMs: ms,
        path: "post-message",
        landing,
      });
    await load(3000, Math.min(rate, 200));
    const report = await load(seconds * 1000, rate);
    console.log(
      `flow: ${report.accepted} accepted, ${report.landed} landed, ${report.lost} lost; ` +
        `accept → Redis p50 ${report.landingLatencyMs.p50.toFixed(0)} ms, p99 ${
          report.landingLatencyMs.p99.toFixed(0)
        } ms (under the profiler)`,
    );
    await host.child.stop();
  } finally {
    await mock.stop();
  }
}

async function profileHttp(
  variant: string,
  seconds: number,
  dir: string,
  cpus: Cpus,
  sink: Sink,
): Promise<void> {
  const port = freePort();
  const module =
    new URL(variant === "bare" ? "./bare_server.ts" : "./host_server.ts", import.meta.url)
      .pathname;
  const child = spawnChild(
    [Deno.execPath(), "run", "-A", "--cpu-prof", `--cpu-prof-dir=${dir}`, module, String(port)],
    {
      logFile: `${dir}/server.log`,
      cpus,
      cpu: cpus.server,
      env: {
        APP1_PORT: String(port),
        // As the benchmark's host rows run (the console's cost is its own row there).
        CONSOLE: "off",
        ...(variant === "host_off"
          ? { OTEL_SDK_DISABLED: "true" }
          : { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint }),
      },
    },
  );
  const url = `http://127.0.0.1:${port}${MESSAGE_PATH}`;
  await waitForHttp(url, {
    child,
    init: () => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"content":"probe"}',
    }),
  });
  const result = await runWrk({ url, seconds, cpus });
  console.log(`${variant}: ${result.rps.toFixed(0)} req/s (under the profiler)`);
  await child.stop();
}

function report(dir: string): void {
  const file = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`));
  const entries = summarize(profile);
  const show = (title: string, key: "selfPercent" | "totalPercent", count: number) => {
    console.log(`\n${title}`);
    for (const entry of [...entries].sort((a, b) => b[key] - a[key]).slice(0, count)) {
      console.log(
        `${entry.selfPercent.toFixed(1).padStart(5)}% self ${
          entry.totalPercent.toFixed(1).padStart(5)
        }% total  ${entry.name}`,
      );
    }
  };
  show("top self time", "selfPercent", 40);
  show("top inclusive time", "totalPercent", 60);
  console.log("\nby category (self time)");
  for (const [name, percent] of categorize(profile)) {
    console.log(`${percent.toFixed(1).padStart(5)}%  ${name}`);
  }
  console.log(`\nprofile: ${dir}/${file.name}`);
}

if (import.meta.main) await main();
