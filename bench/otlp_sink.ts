/**
 * The benchmarks' OTLP/HTTP sink: the shared receiver (testing/otlp_receiver.ts) in a process of
 * its own, pinned to the load generator's CPU, counting requests, bytes, spans and log records
 * without keeping them, so a benchmark can show the telemetry really went out.
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
import type { ReceiverStats } from "../testing/otlp_receiver.ts";
import { type Cpus, denoRun, freePort, spawnChild, waitForHttp } from "./process.ts";

/** What the sink received since it started or was last reset. */
export type SinkStats = Readonly<ReceiverStats>;

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
  const receiver = new URL("../testing/otlp_receiver.ts", import.meta.url).pathname;
  const child = spawnChild(denoRun(receiver, String(port)), {
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
