/**
 * Drives an HTTP endpoint with wrk (one thread, keep-alive connections, pinned to the load CPU)
 * POSTing a JSON body through `bench/post.lua`, and reads its report.
 *
 * @example
 * ```ts
 * import { runWrk } from "./wrk.ts";
 * const result = await runWrk({ url: "http://127.0.0.1:8080/Message", seconds: 5 });
 * console.log(result.rps, result.p50Ms, result.p99Ms);
 * ```
 * @module
 */
import type { Cpus } from "./process.ts";

/** What one wrk run measured. */
export interface WrkResult {
  readonly rps: number;
  readonly requests: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx/3xx answers plus socket errors. */
  readonly errors: number;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections?: number;
  readonly body?: string;
  /** Stop after this many responses (the run then ends early). */
  readonly limit?: number;
  readonly cpus?: Cpus;
}

const SCRIPT = new URL("./post.lua", import.meta.url).pathname;

/** Runs wrk once. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t1",
    `-c${options.connections ?? 64}`,
    `-d${options.seconds}s`,
    "--latency",
    "--timeout",
    "10s",
    "-s",
    SCRIPT,
    options.url,
  ];
  const pin = options.cpus?.pinned ? ["taskset", "-c", String(options.cpus.load)] : [];
  const env: Record<string, string> = {};
  if (options.body !== undefined) env.WRK_BODY = options.body;
  if (options.limit !== undefined) env.WRK_LIMIT = String(options.limit);
  const command = [...pin, "wrk", ...args];
  const output = await new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  }
  return parseWrk(text);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function duration(value: string, unit: string): number {
  return Number(value) * UNIT_MS[unit];
}

/** Reads the numbers out of wrk's report. */
export function parseWrk(text: string): WrkResult {
  const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
  const total = text.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const p50 = text.match(/^\s+50%\s+([\d.]+)(us|ms|s|m)/m);
  const p99 = text.match(/^\s+99%\s+([\d.]+)(us|ms|s|m)/m);
  if (!rps || !total || !p50 || !p99) throw new Error(`cannot read wrk's report:\n${text}`);
  const non2xx = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    rps: Number(rps[1]),
    requests: Number(total[1]),
    seconds: duration(total[2], total[3]) / 1000,
    p50Ms: duration(p50[1], p50[2]),
    p99Ms: duration(p99[1], p99[2]),
    errors: non2xx + socketErrors,
  };
}
