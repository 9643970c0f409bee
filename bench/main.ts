/**
 * `deno task bench`: the host's cost, side by side with the bare stack, in one run on one
 * machine: HTTP (host with full telemetry, bare Hono, bare Hono with Deno's built-in OTel, host
 * with telemetry off), Kafka (host consumer path against bare kafkajs), the seed's flow end to
 * end, its sustained throughput under `deno task load`, and start-up and memory. Prints the
 * tables; the full run writes them into `docs/BENCHMARKS.md`. The last line of the output is
 * `http_ratio=<x> kafka_ratio=<y> peer_ratio=<z>`.
 *
 * ```sh
 * deno task bench            # full run, a few minutes; writes docs/BENCHMARKS.md
 * deno task bench --quick    # short run (about 2 minutes); --write to update the document too
 * ```
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { createClient } from "@redis/client";
import { type FlowBackends, type FlowBenchResult, kafkaHopLatency, runFlowBench } from "./flow.ts";
import { runHttpBench } from "./http.ts";
import { runKafkaBench } from "./kafka.ts";
import { MockKafka } from "../testing/kafka_mock.ts";
import { describeMachine } from "./machine.ts";
import { detectCpus, pinSelf } from "./process.ts";
import {
  type BenchResults,
  formatRatio,
  renderResults,
  targets,
  updateDocument,
} from "./report.ts";
import { runStartupBench } from "./startup.ts";
import { runThroughputBench } from "./throughput.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const quick = values.quick!;
const jobs = new Set((values.only ?? "http,kafka,flow,throughput,startup").split(","));

const settings = quick
  ? {
    http: { rounds: 3, seconds: 3, warmupSeconds: 1, connections: 64 },
    kafka: { messages: 10_000, rounds: 3 },
    flow: { rate: 20, seconds: 5, embedded: false },
    throughput: { rate: 1000, seconds: 10 },
    startup: { starts: 1, requests: 5_000 },
  }
  : {
    http: { rounds: 5, seconds: 8, warmupSeconds: 3, connections: 64 },
    kafka: { messages: 50_000, rounds: 5 },
    flow: { rate: 20, seconds: 30, embedded: true },
    throughput: { rate: 1000, seconds: 60 },
    startup: { starts: 3, requests: 100_000 },
  };

const progress = (line: string) => console.error(`[bench] ${line}`);

/** Versions of the real servers, or why they cannot be used. */
async function probeServers(
  databaseUrl: string,
  redisUrl: string,
): Promise<{ versions: Record<string, string>; problem?: string }> {
  const versions: Record<string, string> = {};
  try {
    const sql = postgres(databaseUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      const [row] = await sql<{ server_version: string }[]>`show server_version`;
      versions.postgresql = row.server_version.split(" ")[0];
      await sql`create table if not exists messages (id uuid primary key, content text not null,
        source text not null, created_at timestamptz not null default now())`;
    } finally {
      await sql.end({ timeout: 1 });
    }
  } catch (error) {
    return { versions, problem: `PostgreSQL at ${databaseUrl}: ${(error as Error).message}` };
  }
  const redis = createClient({
    url: redisUrl,
    socket: { connectTimeout: 3000, reconnectStrategy: false },
  });
  try {
    await redis.connect();
    const info = await redis.info("server");
    versions.redis = info.match(/redis_version:(\S+)/)?.[1] ?? "unknown";
  } catch (error) {
    return { versions, problem: `Redis at ${redisUrl}: ${(error as Error).message}` };
  } finally {
    if (redis.isOpen) redis.destroy();
  }
  return { versions };
}

async function main(): Promise<void> {
  // kafkajs (the preloading producer) arms negative timers; Node's layer would warn each time.
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name !== "TimeoutNegativeWarning") progress(`warning: ${warning.message}`);
  });
  const cpus = await detectCpus();
  await pinSelf(cpus);
  const workDir = await Deno.makeTempDir({ prefix: "otel-functions-bench-" });
  progress(`work folder ${workDir} (child logs); ${cpus.pinned ? "pinned" : "not pinned"}`);
  const databaseUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
  const servers = jobs.has("flow") || jobs.has("throughput")
    ? await probeServers(databaseUrl, redisUrl)
    : { versions: {}, problem: undefined };
  const machine = await describeMachine(servers.versions);
  const skipped: string[] = [];
  const flows: FlowBenchResult[] = [];
  const results: {
    -readonly [K in keyof BenchResults]: BenchResults[K];
  } = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: `deno task bench${Deno.args.length > 0 ? " " + Deno.args.join(" ") : ""}`,
    quick,
    machine,
    pinned: cpus.pinned,
    settings: {
      HTTP:
        `wrk -t1 -c${settings.http.connections}, ${settings.http.rounds} rounds × ${settings.http.seconds} s per variant after ${settings.http.warmupSeconds} s warm-up, variants alternating`,
      Kafka:
        `${settings.kafka.messages} preloaded messages, ${settings.kafka.rounds} rounds per side, alternating, fresh groups`,
      flow: `${settings.flow.rate} executor ticks/s for ${settings.flow.seconds} s`,
      throughput:
        `deno task load's runLoad at ${settings.throughput.rate} msg/s for ${settings.throughput.seconds} s on the Kafka path`,
      "start-up":
        `${settings.startup.starts} cold and warm starts; memory over ${settings.startup.requests} requests`,
    },
    flows,
    skipped,
  };

  const mock = jobs.has("kafka") || jobs.has("flow") || jobs.has("throughput")
    ? await MockKafka.start({ cpu: cpus.pinned ? cpus.load : undefined })
    : undefined;
  try {
    if (jobs.has("http")) {
      results.http = await runHttpBench({ ...settings.http, cpus, workDir, progress });
    }
    if (jobs.has("kafka")) {
      results.kafka = await runKafkaBench({
        ...settings.kafka,
        brokers: mock!.brokers,
        cpus,
        workDir,
        progress,
      });
    }
    if (jobs.has("flow")) {
      const flow = { ...settings.flow, cpus, workDir, progress };
      results.kafkaHop = await kafkaHopLatency(
        mock!.brokers,
        settings.flow.rate,
        Math.min(10, settings.flow.seconds),
      );
      progress(
        `kafka hop reference: p50 ${results.kafkaHop.p50Ms.toFixed(1)} ms, p99 ${
          results.kafkaHop.p99Ms.toFixed(1)
        } ms`,
      );
      if (servers.problem) skipped.push(`flow against real servers (${servers.problem})`);
      else {
        const backends: FlowBackends = { databaseUrl, redisUrl, kafkaBrokers: mock!.brokers };
        flows.push(await runFlowBench({ ...flow, backends }));
      }
      if (settings.flow.embedded) {
        flows.push(await runFlowBench({ ...flow, seconds: Math.ceil(flow.seconds / 2) }));
      }
    }
    if (jobs.has("throughput")) {
      if (servers.problem) skipped.push(`throughput against real servers (${servers.problem})`);
      else {
        results.throughput = await runThroughputBench({
          ...settings.throughput,
          backends: { databaseUrl, redisUrl, kafkaBrokers: mock!.brokers },
          cpus,
          workDir,
          progress,
        });
      }
    }
  } finally {
    await mock?.stop();
  }
  if (jobs.has("startup")) {
    results.startup = await runStartupBench({ ...settings.startup, cpus, workDir, progress });
  }

  const generated = renderResults(results);
  console.log(generated);
  if (!quick || values.write) {
    const path = new URL("../docs/BENCHMARKS.md", import.meta.url).pathname;
    let document: string | undefined;
    try {
      document = await Deno.readTextFile(path);
    } catch {
      document = undefined;
    }
    await Deno.writeTextFile(path, updateDocument(document, generated));
    // The document is checked by `deno fmt --check` like everything else.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path] }).output();
    progress(`wrote ${path}`);
  }
  const missed = targets(results).filter((row) => row[2].includes("not met")).length;
  if (missed > 0) progress(`${missed} target(s) not met`);
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  console.log(
    `http_ratio=${formatRatio(results.http?.ratio)} kafka_ratio=${
      formatRatio(results.kafka?.ratio)
    } peer_ratio=${formatRatio(results.http?.peerRatio)}`,
  );
}

await main();
