/**
 * The HTTP pairs: the same handler served by the host with full telemetry, by bare Hono on
 * `Deno.serve` (the limit), by bare Hono with Deno's built-in OpenTelemetry (the peer), and by the
 * host with telemetry off. Every server runs in its own process on the server CPU; wrk runs on the
 * other. The variants take turns (a round runs each once, starting with a different one each
 * round) and the medians of the rounds are reported.
 *
 * @example
 * ```ts
 * import { runHttpBench } from "./http.ts";
 * // const result = await runHttpBench({ rounds: 3, seconds: 5, warmupSeconds: 2, ... });
 * ```
 * @module
 */
import { MESSAGE_PATH } from "./handler.ts";
import { type Child, type Cpus, denoRun, freePort, spawnChild, waitForHttp } from "./process.ts";
import { type Sink, type SinkStats, startSink } from "./otlp_sink.ts";
import { median, rotate } from "./stats.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

/** The variants, by key. */
export type HttpVariantKey = "host" | "host_console" | "bare" | "deno_otel" | "host_off";

/** How each variant is described in the report. */
export const HTTP_VARIANTS: Record<HttpVariantKey, string> = {
  host: "host, full telemetry (spans + logs over OTLP, metrics, stdout log), CONSOLE=off",
  host_console: "host, full telemetry as above plus the console capturing in process",
  bare: "bare Hono + Deno.serve, no telemetry (the limit)",
  deno_otel: "bare Hono + Deno built-in OTel at its defaults (OTEL_DENO=true, OTLP http/protobuf)",
  host_off: "host, telemetry off (OTEL_SDK_DISABLED=true)",
};

/** Settings of {@linkcode runHttpBench}. */
export interface HttpBenchOptions {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly cpus: Cpus;
  readonly workDir: string;
  readonly progress: (line: string) => void;
}

/** The outcome of one variant over all rounds. */
export interface HttpVariantResult {
  readonly key: HttpVariantKey;
  readonly runs: readonly WrkResult[];
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Requests sent to it, warm-up included. */
  readonly requests: number;
  /** What its OTLP sink received over the whole benchmark (variants with telemetry). */
  readonly sink?: SinkStats;
  readonly rssAfterBytes?: number;
}

/** The HTTP benchmark's results. */
export interface HttpBenchResult {
  readonly variants: Record<HttpVariantKey, HttpVariantResult>;
  /** host rps / bare rps. */
  readonly ratio: number;
  /** host rps / Deno built-in OTel rps. */
  readonly peerRatio: number;
  readonly hostOffRatio: number;
}

interface Running {
  readonly key: HttpVariantKey;
  readonly url: string;
  readonly child: Child;
  readonly sink?: Sink;
  readonly runs: WrkResult[];
  requests: number;
}

async function startVariant(
  key: HttpVariantKey,
  options: HttpBenchOptions,
): Promise<Running> {
  const port = freePort();
  const logFile = `${options.workDir}/http-${key}.log`;
  const sink = key === "host" || key === "host_console" || key === "deno_otel"
    ? await startSink({ logFile: `${options.workDir}/sink-${key}.log`, cpus: options.cpus })
    : undefined;
  const bare = new URL("./bare_server.ts", import.meta.url).pathname;
  const host = new URL("./host_server.ts", import.meta.url).pathname;
  const common = { logFile, cpus: options.cpus, cpu: options.cpus.server };
  let child: Child;
  switch (key) {
    case "bare":
      child = spawnChild(denoRun(bare, String(port)), common);
      break;
    case "deno_otel":
      child = spawnChild(denoRun(bare, String(port), "--console-log"), {
        ...common,
        env: {
          OTEL_DENO: "true",
          OTEL_SERVICE_NAME: "bench-bare",
          OTEL_EXPORTER_OTLP_ENDPOINT: sink!.endpoint,
        },
      });
      break;
    case "host":
    case "host_console":
    case "host_off":
      child = spawnChild(denoRun(host), {
        ...common,
        env: {
          APP1_PORT: String(port),
          // The console's cost is host_console against host: same export, console on or off.
          ...(key === "host_console" ? { CONSOLE_PORT: String(freePort()) } : { CONSOLE: "off" }),
          ...(key === "host_off"
            ? { OTEL_SDK_DISABLED: "true" }
            : { OTEL_EXPORTER_OTLP_ENDPOINT: sink!.endpoint }),
        },
      });
      break;
  }
  const url = `http://127.0.0.1:${port}${MESSAGE_PATH}`;
  let probes = 0;
  await waitForHttp(url, {
    child,
    timeoutMs: 60_000,
    init: () => {
      probes++;
      return {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"content":"probe"}',
      };
    },
  });
  return { key, url, child, sink, runs: [], requests: probes };
}

/** Runs the HTTP benchmark. */
export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const keys: HttpVariantKey[] = ["host", "host_console", "bare", "deno_otel", "host_off"];
  const running: Running[] = [];
  try {
    for (const key of keys) running.push(await startVariant(key, options));
    for (const variant of running) {
      const warm = await runWrk({
        url: variant.url,
        seconds: options.warmupSeconds,
        connections: options.connections,
        cpus: options.cpus,
      });
      variant.requests += warm.requests;
      options.progress(`http warm-up ${variant.key}: ${warm.rps.toFixed(0)} req/s`);
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const variant of rotate(running, round)) {
        const result = await runWrk({
          url: variant.url,
          seconds: options.seconds,
          connections: options.connections,
          cpus: options.cpus,
        });
        variant.runs.push(result);
        variant.requests += result.requests;
        options.progress(
          `http round ${round + 1}/${options.rounds} ${variant.key}: ${
            result.rps.toFixed(0)
          } req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms` +
            (result.errors > 0 ? `, ${result.errors} errors` : ""),
        );
      }
    }
    const rss = new Map(running.map((variant) => [variant.key, variant.child.rss()]));
    // Stopping flushes what the exporters still hold, so the sinks see everything that was sent.
    await Promise.all(running.map((variant) => variant.child.stop()));
    const variants = {} as Record<HttpVariantKey, HttpVariantResult>;
    for (const variant of running) {
      variants[variant.key] = {
        key: variant.key,
        runs: variant.runs,
        rps: median(variant.runs.map((run) => run.rps)),
        p50Ms: median(variant.runs.map((run) => run.p50Ms)),
        p99Ms: median(variant.runs.map((run) => run.p99Ms)),
        errors: variant.runs.reduce((sum, run) => sum + run.errors, 0),
        requests: variant.requests,
        sink: await variant.sink?.stats(),
        rssAfterBytes: rss.get(variant.key),
      };
    }
    return {
      variants,
      ratio: variants.host.rps / variants.bare.rps,
      peerRatio: variants.host.rps / variants.deno_otel.rps,
      hostOffRatio: variants.host_off.rps / variants.bare.rps,
    };
  } finally {
    await Promise.all(running.map(async (variant) => {
      await variant.child.stop();
      await variant.sink?.stop();
    }));
  }
}
