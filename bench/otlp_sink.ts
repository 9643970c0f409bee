/**
 * A local OTLP/HTTP sink: accepts `POST /v1/traces`, `/v1/logs` and `/v1/metrics` the way a
 * collector would (200 with an empty JSON answer) and counts requests, bytes, spans and log
 * records, so a benchmark can show the telemetry really went out. Counting scans the JSON for one
 * key per item instead of parsing it, to take as little CPU from the load generator as it can.
 *
 * Run as its own process: `deno run -A bench/otlp_sink.ts <port>`; `GET /stats` answers the
 * counts, `POST /reset` zeroes them.
 *
 * @example
 * ```ts
 * import { startSink } from "./otlp_sink.ts";
 * const sink = await startSink({ logFile: "/tmp/sink.log" });
 * console.log(sink.endpoint, (await sink.stats()).spans);
 * await sink.stop();
 * ```
 * @module
 */
import { type Cpus, denoRun, freePort, spawnChild, waitForHttp } from "./process.ts";

/** What the sink received since it started or was last reset. */
export interface SinkStats {
  readonly requests: number;
  readonly bytes: number;
  readonly spans: number;
  readonly logs: number;
  readonly metricRequests: number;
  /** Requests in a format the sink does not count items of (protobuf). */
  readonly uncounted: number;
}

/** A sink running in its own process. */
export interface Sink {
  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  stats(): Promise<SinkStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a sink process, pinned to the load generator's CPU. */
export async function startSink(
  options: { readonly logFile: string; readonly cpus?: Cpus },
): Promise<Sink> {
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawnChild(denoRun(new URL(import.meta.url).pathname, String(port)), {
    logFile: options.logFile,
    cpus: options.cpus,
    cpu: options.cpus?.load,
  });
  await waitForHttp(`${endpoint}/stats`, { child, timeoutMs: 30_000 });
  return {
    endpoint,
    async stats() {
      return await (await fetch(`${endpoint}/stats`)).json() as SinkStats;
    },
    async reset() {
      await (await fetch(`${endpoint}/reset`, { method: "POST" })).body?.cancel();
    },
    async stop() {
      await child.stop();
    },
  };
}

/** How often `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    count++;
  }
  return count;
}

function serve(port: number): void {
  let stats: { -readonly [K in keyof SinkStats]: number } = zero();
  function zero() {
    return { requests: 0, bytes: 0, spans: 0, logs: 0, metricRequests: 0, uncounted: 0 };
  }
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "GET" && path === "/stats") return Response.json(stats);
    if (request.method === "POST" && path === "/reset") {
      stats = zero();
      return new Response(null, { status: 204 });
    }
    if (request.method !== "POST" || !path.startsWith("/v1/")) {
      return new Response("not found", { status: 404 });
    }
    const body = await request.text();
    stats.requests++;
    stats.bytes += body.length;
    const json = (request.headers.get("content-type") ?? "").includes("json");
    if (!json) {
      stats.uncounted++;
      return new Response(new Uint8Array(), {
        headers: { "content-type": "application/x-protobuf" },
      });
    }
    // One key per item: every span has a start time, every log record an observed time.
    if (path === "/v1/traces") stats.spans += occurrences(body, '"startTimeUnixNano"');
    else if (path === "/v1/logs") stats.logs += occurrences(body, '"observedTimeUnixNano"');
    else if (path === "/v1/metrics") stats.metricRequests++;
    return Response.json({});
  });
}

if (import.meta.main) serve(Number(Deno.args[0]));
