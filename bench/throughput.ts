/**
 * The flow's sustained throughput: the full host (app1-app4, one process, full telemetry to a
 * sink) against real PostgreSQL and Redis and the mock Kafka broker, loaded by `runLoad`
 * (`load/mod.ts`) at a steady rate on the Kafka path (app1 → Purchase → app2 → app3 → Purchase2 →
 * app4 → Redis) for a while; every accepted message is then looked up in Redis, and its landing
 * latency read from the time app4 stored it.
 *
 * @example
 * ```ts
 * import { runThroughputBench } from "./throughput.ts";
 * // const result = await runThroughputBench({ backends, rate: 1000, seconds: 60, ... });
 * ```
 * @module
 */
import { createClient } from "@redis/client";
import { type LoadReport, runLoad } from "../load/mod.ts";
import { type FlowBackends, startFlowHost } from "./flow.ts";
import { startSink } from "./otlp_sink.ts";
import type { Cpus } from "./process.ts";

/** Settings of {@linkcode runThroughputBench}. */
export interface ThroughputBenchOptions {
  readonly backends: FlowBackends;
  /** Messages per second offered. */
  readonly rate: number;
  readonly seconds: number;
  readonly cpus: Cpus;
  readonly workDir: string;
  readonly progress: (line: string) => void;
}

/** What the run measured. */
export interface ThroughputBenchResult {
  readonly rate: number;
  readonly seconds: number;
  readonly report: LoadReport;
  /** Spans the host exported during the run. */
  readonly spans: number;
  readonly logs: number;
}

/** Runs the throughput benchmark. */
export async function runThroughputBench(
  options: ThroughputBenchOptions,
): Promise<ThroughputBenchResult> {
  const sink = await startSink({
    logFile: `${options.workDir}/sink-throughput.log`,
    cpus: options.cpus,
  });
  const ids: string[] = [];
  const { backends } = options;
  const landing = {
    kind: "stores",
    databaseUrl: backends.databaseUrl,
    redisUrl: backends.redisUrl,
  } as const;
  const host = await startFlowHost({ ...options, backends }, sink);
  try {
    // Warm-up: consumers joined, connections open, code compiled.
    const warm = await runLoad({
      target: host.urls.app1,
      rate: Math.min(options.rate, 200),
      durationMs: 3000,
      path: "post-message",
      landing,
      landingTimeoutMs: 60_000,
      onSend: (id) => ids.push(id),
    });
    options.progress(`throughput warm-up: ${warm.landed}/${warm.sent} landed`);
    await sink.reset();
    let last = 0;
    const report = await runLoad({
      target: host.urls.app1,
      rate: options.rate,
      durationMs: options.seconds * 1000,
      path: "post-message",
      landing,
      landingTimeoutMs: 30_000,
      onSend: (id) => ids.push(id),
      onProgress: (p) => {
        if (p.elapsedMs - last < 10_000 && p.phase !== "done") return;
        last = p.elapsedMs;
        options.progress(
          `throughput ${p.phase}: ${
            (p.elapsedMs / 1000).toFixed(0)
          } s, ${p.sent} sent, ${p.accepted} accepted, ${p.landed} landed, ${p.inFlight} in flight`,
        );
      },
    });
    await host.child.stop();
    const stats = await sink.stats();
    options.progress(
      `throughput: ${report.throughput.sent.toFixed(0)} msg/s offered for ${
        report.sendSeconds.toFixed(1)
      } s, ${report.landed}/${report.accepted} landed, ${report.lost} lost, landing p99 ${
        report.landingLatencyMs.p99.toFixed(0)
      } ms; ${stats.spans} spans, ${stats.logs} logs exported`,
    );
    return {
      rate: options.rate,
      seconds: options.seconds,
      report,
      spans: stats.spans,
      logs: stats.logs,
    };
  } finally {
    await host.child.stop();
    await sink.stop();
    await removeKeys(backends.redisUrl, ids);
  }
}

/** Removes the run's keys (the shared Redis is not the benchmark's). */
async function removeKeys(redisUrl: string, ids: readonly string[]): Promise<void> {
  const redis = createClient({ url: redisUrl });
  redis.on("error", () => {});
  try {
    await redis.connect();
    for (let i = 0; i < ids.length; i += 1000) {
      await redis.del(ids.slice(i, i + 1000).map((id) => `message:${id}`));
    }
  } catch {
    // they expire after CACHE_TTL_SECONDS anyway
  } finally {
    if (redis.isOpen) redis.destroy();
  }
}
