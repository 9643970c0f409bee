/**
 * Child processes for the benchmarks: each server under test runs in its own process, pinned to
 * its own CPU when `taskset` is there, with stdout and stderr appended to a file (a log pipe
 * nobody reads would stall it; a file costs what a container's log driver costs).
 *
 * @example
 * ```ts
 * import { freePort, spawnChild } from "./process.ts";
 * const port = await freePort();
 * const child = spawnChild(["deno", "run", "-A", "bench/bare_server.ts", String(port)], {
 *   logFile: "/tmp/bare.log",
 *   cpu: 0,
 * });
 * await child.stop();
 * ```
 * @module
 */
import { waitFor } from "../testing/wait.ts";

export { freePort } from "../testing/port.ts";

/** Which CPU does what: the measured process gets one, the load generator the other. */
export interface Cpus {
  /** Whether `taskset` pins processes here. */
  readonly pinned: boolean;
  /** The CPU of the server (or consumer) under test. */
  readonly server: number;
  /** The CPU of wrk, the OTLP sinks, the broker mock and this orchestrator. */
  readonly load: number;
  readonly count: number;
}

/** Finds out whether pinning is possible: `taskset` present and at least two CPUs. */
export async function detectCpus(): Promise<Cpus> {
  const count = navigator.hardwareConcurrency;
  let taskset = false;
  try {
    const { success } = await new Deno.Command("taskset", { args: ["-c", "0", "true"] }).output();
    taskset = success;
  } catch {
    taskset = false;
  }
  const pinned = taskset && count >= 2;
  return { pinned, server: 0, load: pinned ? 1 : 0, count };
}

/** Pins this process (and the threads it starts later) to `cpu`. */
export async function pinSelf(cpus: Cpus): Promise<void> {
  if (!cpus.pinned) return;
  await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", String(cpus.load), String(Deno.pid)],
    stdout: "null",
  }).output();
}

/** The parent's environment without telemetry and backend settings, which each child sets. */
export function baseEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (
      name.startsWith("OTEL_") || name.startsWith("UPSTASH_") || name.endsWith("_PORT") ||
      ["DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "SERVICES", "DATA_DIR", "LOG_LEVEL"]
        .includes(name)
    ) delete env[name];
  }
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
}

/** Options of {@linkcode spawnChild}. */
export interface ChildOptions {
  /** Where stdout and stderr are appended. */
  readonly logFile: string;
  /** The CPU to pin the process to; unpinned when undefined or when pinning is unavailable. */
  readonly cpu?: number;
  readonly cpus?: Cpus;
  /** Added to {@linkcode baseEnv}. */
  readonly env?: Record<string, string>;
}

/** A running child process. */
export interface Child {
  readonly pid: number;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** Resident memory in bytes (VmRSS), or undefined once the process is gone. */
  rss(): number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
}

/** Starts `command` (argv) as a child with its output appended to `options.logFile`. */
export function spawnChild(command: readonly string[], options: ChildOptions): Child {
  const pin = options.cpu !== undefined && (options.cpus?.pinned ?? false)
    ? ["taskset", "-c", String(options.cpu)]
    : [];
  // sh execs the command, so the pid we hold is the measured process itself.
  const proc = new Deno.Command("sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      options.logFile,
      ...pin,
      ...command,
    ],
    clearEnv: true,
    env: { ...baseEnv(), ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = proc.status.then((status) => status.code);
  let done = false;
  exited.then(() => done = true);
  return {
    pid: proc.pid,
    exited,
    rss: () => done ? undefined : readRss(proc.pid),
    async stop(graceMs = 15_000) {
      if (done) return exited;
      try {
        proc.kill("SIGTERM");
      } catch {
        return exited;
      }
      const timer = setTimeout(() => {
        try {
          proc.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The argv that runs a Deno module with all permissions. */
export function denoRun(module: string, ...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", module, ...args];
}

/** User plus system CPU time of process `pid` so far, in microseconds; undefined once it is gone. */
export function cpuTimeUs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the file, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/** VmRSS of `pid` in bytes, from /proc; undefined when the process is gone. */
export function readRss(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls `url` until `accept(status)`; resolves with the milliseconds since `since`
 * (performance.now() time). Fails after `timeoutMs`, or at once when `child` exits.
 */
export async function waitForHttp(
  url: string,
  options: {
    readonly init?: () => RequestInit;
    readonly accept?: (status: number) => boolean;
    readonly timeoutMs?: number;
    readonly intervalMs?: number;
    readonly since?: number;
    readonly child?: Child;
  } = {},
): Promise<number> {
  const since = options.since ?? performance.now();
  const accept = options.accept ?? ((status) => status >= 200 && status < 300);
  let exitCode: number | undefined;
  options.child?.exited.then((code) => exitCode = code);
  await waitFor(
    url,
    async () => {
      if (exitCode !== undefined) return `exited (${exitCode})`;
      const response = await fetch(url, { ...options.init?.(), signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (!accept(response.status)) throw new Error(`status ${response.status}`);
      return "answered";
    },
    options.timeoutMs ?? 60_000,
    options.intervalMs ?? 20,
  ).then((outcome) => {
    if (outcome !== "answered") throw new Error(`the process ${outcome} before ${url}`);
  });
  return performance.now() - since;
}
