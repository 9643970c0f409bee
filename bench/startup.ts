/**
 * Start-up and memory of the real host (`deno run -A runtime/main.ts`, every service, embedded
 * defaults, telemetry to a local sink): milliseconds from spawning the process to the first 2xx
 * from a function (app1 `POST /Message`, which goes through app3 to PostgreSQL), with a fresh data
 * folder (cold) and with the folder of a previous start (warm); then resident memory after start,
 * during sustained load (sampled, with its trend) and after `requests` requests.
 *
 * @example
 * ```ts
 * import { runStartupBench } from "./startup.ts";
 * // const result = await runStartupBench({ starts: 3, requests: 100_000, ... });
 * ```
 * @module
 */
import { startSink } from "./otlp_sink.ts";
import { type Child, type Cpus, denoRun, freePort, spawnChild, waitForHttp } from "./process.ts";
import { median, slope } from "./stats.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

/** Settings of {@linkcode runStartupBench}. */
export interface StartupBenchOptions {
  /** Cold starts and warm starts to take the median of. */
  readonly starts: number;
  /** Requests for the memory run. */
  readonly requests: number;
  readonly cpus: Cpus;
  readonly workDir: string;
  readonly progress: (line: string) => void;
}

/** Resident memory over the sustained load. */
export interface MemoryResult {
  /** The host's own gauges (`/metrics`) after start and after the load. */
  readonly heap: { readonly afterStart: HeapGauges; readonly afterLoad: HeapGauges };
  readonly afterStartBytes: number;
  readonly afterLoadBytes: number;
  /** Samples taken during the load: the first, the last, the largest. */
  readonly firstBytes: number;
  readonly lastBytes: number;
  readonly maxBytes: number;
  /** Trend over the second half of the load, in MiB per 10k requests. */
  readonly slopeMibPer10k: number;
  readonly samples: number;
  /**
   * The lowest V8 heap-in-use sample (`v8js_memory_heap_used_bytes`, scraped every second) in
   * each tenth of the load: the live heap after the collections, whatever capacity V8 keeps.
   */
  readonly heapLows: readonly number[];
  /** RSS at 0 %, 10 %, … 100 % of the load. */
  readonly series: readonly number[];
  readonly load: WrkResult;
}

/** The start-up benchmark's results. */
export interface StartupBenchResult {
  readonly coldMs: readonly number[];
  readonly warmMs: readonly number[];
  /** Resident memory 10 s after spawning, fresh and existing data folder, per start. */
  readonly coldRss10sBytes: readonly number[];
  readonly warmRss10sBytes: readonly number[];
  /** The process's peak resident memory (VmHWM) by then. */
  readonly coldPeakBytes: readonly number[];
  readonly coldMedianMs: number;
  readonly warmMedianMs: number;
  readonly memory: MemoryResult;
}

/** V8 heap figures the host exports as `v8js_memory_heap_*_bytes`, summed over heap spaces. */
export interface HeapGauges {
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
}

async function heapGauges(baseUrl: string): Promise<HeapGauges> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const sum = (name: string) => {
    const values = [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "gm"))];
    return values.length === 0 ? NaN : values.reduce((total, m) => total + Number(m[1]), 0);
  };
  return {
    heapUsedBytes: sum("v8js_memory_heap_used_bytes"),
    heapTotalBytes: sum("v8js_memory_heap_space_size_bytes"),
  };
}

const PROBE_ID = "00000000-0000-4000-8000-00000000b001";
const PROBE_BODY = JSON.stringify({ id: PROBE_ID, content: "start-up probe" });

/**
 * Spawns `runtime/main.ts` of `main` (this checkout's by default) with every service on free
 * ports, the embedded defaults in `dataDir` and telemetry to `endpoint`, pinned to the server CPU,
 * and waits for the first 2xx from app1 `POST /Message` (through app3 to PostgreSQL).
 */
export async function startTimed(options: {
  readonly dataDir: string;
  readonly endpoint: string;
  readonly cpus: Cpus;
  readonly logFile: string;
  readonly main?: string;
}): Promise<{ child: Child; ms: number; app1: string; since: number }> {
  const names = ["executor", "app1", "app2", "app3", "app4"];
  const ports = Object.fromEntries(names.map((name) => [name, freePort()]));
  const since = performance.now();
  const main = options.main ?? new URL("../runtime/main.ts", import.meta.url).pathname;
  const child = spawnChild(denoRun(main), {
    logFile: options.logFile,
    cpus: options.cpus,
    cpu: options.cpus.server,
    env: {
      HOST: "127.0.0.1",
      DATA_DIR: options.dataDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: options.endpoint,
      ...Object.fromEntries(
        names.map((name) => [`${name.toUpperCase()}_PORT`, String(ports[name])]),
      ),
    },
  });
  const app1 = `http://127.0.0.1:${ports.app1}`;
  const ms = await waitForHttp(`${app1}/Message`, {
    child,
    since,
    intervalMs: 5,
    timeoutMs: 90_000,
    init: () => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: PROBE_BODY,
    }),
  });
  return { child, ms, app1, since };
}

/** Resident memory and its peak (bytes) of `child` at `afterMs` (10 s) after it was spawned. */
export async function memoryAt(
  child: Child,
  since: number,
  afterMs = 10_000,
): Promise<{ rss: number; peak: number }> {
  const wait = since + afterMs - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  const field = (name: string) =>
    Number(status.match(new RegExp(`${name}:\\s+(\\d+) kB`))?.[1]) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** Runs the start-up and memory benchmark. */
export async function runStartupBench(options: StartupBenchOptions): Promise<StartupBenchResult> {
  const sink = await startSink({
    logFile: `${options.workDir}/sink-startup.log`,
    cpus: options.cpus,
  });
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const coldRss10sBytes: number[] = [];
  const warmRss10sBytes: number[] = [];
  const coldPeakBytes: number[] = [];
  let running: Child | undefined;
  try {
    let dataDir = "";
    for (let i = 0; i < options.starts; i++) {
      dataDir = await Deno.makeTempDir({ dir: options.workDir, prefix: "startup-data-" });
      const cold = await startTimed({
        dataDir,
        endpoint: sink.endpoint,
        cpus: options.cpus,
        logFile: `${options.workDir}/startup-cold-${i}.log`,
      });
      const coldMemory = await memoryAt(cold.child, cold.since);
      await cold.child.stop();
      coldMs.push(cold.ms);
      coldRss10sBytes.push(coldMemory.rss);
      coldPeakBytes.push(coldMemory.peak);
      const warm = await startTimed({
        dataDir,
        endpoint: sink.endpoint,
        cpus: options.cpus,
        logFile: `${options.workDir}/startup-warm-${i}.log`,
      });
      warmMs.push(warm.ms);
      warmRss10sBytes.push((await memoryAt(warm.child, warm.since)).rss);
      options.progress(
        `start-up ${i + 1}/${options.starts}: cold ${cold.ms.toFixed(0)} ms, warm ${
          warm.ms.toFixed(0)
        } ms to the first 2xx; RSS at 10 s ${mib(coldMemory.rss)} / ${
          mib(warmRss10sBytes.at(-1)!)
        } MiB (peak ${mib(coldMemory.peak)} MiB fresh)`,
      );
      if (i < options.starts - 1) await warm.child.stop();
      else running = warm.child;
    }

    const child = running!;
    const app1 =
      (await Deno.readTextFile(`${options.workDir}/startup-warm-${options.starts - 1}.log`))
        .match(/"app1":"(http:[^"]+)"/)?.[1];
    if (!app1) throw new Error("the host did not log app1's URL");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const afterStartBytes = child.rss()!;
    const heapAfterStart = await heapGauges(app1);
    const samples: Array<[number, number]> = [];
    const heapSamples: Array<[number, number]> = [];
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const sampler = setInterval(() => {
      const rss = child.rss();
      if (rss !== undefined) samples.push([seconds(), rss]);
    }, 250);
    let scraping = false;
    const heapSampler = setInterval(async () => {
      if (scraping) return;
      scraping = true;
      try {
        heapSamples.push([seconds(), (await heapGauges(app1)).heapUsedBytes]);
      } catch {
        // a scrape that fails under load is just a missing sample
      } finally {
        scraping = false;
      }
    }, 1000);
    let load: WrkResult;
    try {
      load = await sustain(`${app1}/Message`, options);
    } finally {
      clearInterval(sampler);
      clearInterval(heapSampler);
    }
    const afterLoadBytes = child.rss()!;
    const heapAfterLoad = await heapGauges(app1);
    const end = samples.at(-1)?.[0] ?? 0;
    const half = samples.filter(([seconds]) => seconds >= end / 2);
    const perSecond = slope(half);
    const memory: MemoryResult = {
      heap: { afterStart: heapAfterStart, afterLoad: heapAfterLoad },
      afterStartBytes,
      afterLoadBytes,
      firstBytes: samples[0]?.[1] ?? afterStartBytes,
      lastBytes: samples.at(-1)?.[1] ?? afterLoadBytes,
      maxBytes: Math.max(...samples.map(([, rss]) => rss)),
      slopeMibPer10k: perSecond / load.rps * 10_000 / 2 ** 20,
      samples: samples.length,
      heapLows: Array.from({ length: 10 }, (_, i) => {
        const inTenth = heapSamples.filter(([at]) => at >= end * i / 10 && at < end * (i + 1) / 10);
        return Math.min(...inTenth.map(([, bytes]) => bytes));
      }),
      series: Array.from(
        { length: 11 },
        (_, i) =>
          samples[Math.min(samples.length - 1, Math.round(i / 10 * (samples.length - 1)))][1],
      ),
      load,
    };
    options.progress(
      `memory: ${mib(afterStartBytes)} MiB after start, ${
        mib(afterLoadBytes)
      } MiB after ${load.requests} requests (${load.rps.toFixed(0)} req/s), max ${
        mib(memory.maxBytes)
      } MiB, trend ${memory.slopeMibPer10k.toFixed(2)} MiB/10k requests; V8 heap used ${
        mib(heapAfterStart.heapUsedBytes)
      } -> ${mib(heapAfterLoad.heapUsedBytes)} MiB`,
    );
    return {
      coldMs,
      warmMs,
      coldRss10sBytes,
      warmRss10sBytes,
      coldPeakBytes,
      coldMedianMs: median(coldMs),
      warmMedianMs: median(warmMs),
      memory,
    };
  } finally {
    await running?.stop();
    await sink.stop();
  }
}

/**
 * Sends `options.requests` requests in runs of a few seconds (wrk cannot stop at a count without
 * waiting out its duration), the last run sized from the rate of the ones before.
 */
async function sustain(url: string, options: StartupBenchOptions): Promise<WrkResult> {
  const runs: WrkResult[] = [];
  let sent = 0;
  while (sent < options.requests) {
    const left = options.requests - sent;
    const rate = sent > 0 ? sent / runs.reduce((sum, run) => sum + run.seconds, 0) : 0;
    const last = rate > 0 && left / rate < 10;
    const run = await runWrk({
      url,
      seconds: last ? Math.max(1, Math.ceil(left / rate * 1.2)) : 5,
      connections: 16,
      body: PROBE_BODY,
      limit: last ? left : undefined,
      cpus: options.cpus,
    });
    runs.push(run);
    sent += run.requests;
  }
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  return {
    rps: sent / seconds,
    requests: sent,
    seconds,
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: Math.max(...runs.map((run) => run.p99Ms)),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  };
}

/** Bytes in MiB, one decimal. */
export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
