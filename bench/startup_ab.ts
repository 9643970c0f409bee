/**
 * An interleaved A/B of the host's start-up between two checkouts of this repository (say, main
 * in a spare worktree and a branch): each round starts A and B in turns (each round begins with
 * the other side), every service with the embedded defaults on a fresh data folder (with
 * `--warm`, then once more on that folder), pinned to the server CPU, telemetry to a local sink.
 * Takes the milliseconds from spawning to the first 2xx from app1 `POST /Message` (app1 → app3 →
 * embedded PostgreSQL) and the resident memory (and its peak) 10 s after spawning, as
 * `deno task bench --only=startup` does; prints each start and the medians.
 *
 * ```sh
 * deno run -A bench/startup_ab.ts --a ../main --b . [--rounds 5] [--warm] [--keep]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { startSink } from "./otlp_sink.ts";
import { type Cpus, denoRun, detectCpus, freePort, pinSelf, spawnChild } from "./process.ts";
import { waitForHttp } from "./process.ts";
import { median, rotate } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    rounds: { type: "string", default: "5" },
    warm: { type: "boolean", default: false },
    settle: { type: "string", default: "10000" },
    keep: { type: "boolean", default: false },
  },
});
if (!values.a) throw new Error("--a <checkout> is required");

interface Start {
  readonly ms: number;
  /** CPU time (user and system, every thread) the host had used by its first 2xx. */
  readonly cpuMs: number;
  readonly rss: number;
  readonly peak: number;
}

const PROBE_BODY = JSON.stringify({
  id: "00000000-0000-4000-8000-00000000b001",
  content: "start-up probe",
});
const NAMES = ["executor", "app1", "app2", "app3", "app4"];

/** One start of the host in `root` on `dataDir`: time to the first 2xx, memory at `settleMs`. */
async function startOnce(
  root: string,
  dataDir: string,
  endpoint: string,
  cpus: Cpus,
  logFile: string,
  settleMs: number,
): Promise<Start> {
  const ports = Object.fromEntries(NAMES.map((name) => [name, freePort()]));
  const since = performance.now();
  const child = spawnChild(denoRun(`${root}/runtime/main.ts`), {
    logFile,
    cpus,
    cpu: cpus.server,
    env: {
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      ...Object.fromEntries(NAMES.map((name) => [`${name.toUpperCase()}_PORT`, `${ports[name]}`])),
    },
  });
  try {
    const ms = await waitForHttp(`http://127.0.0.1:${ports.app1}/Message`, {
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
    const cpuMs = cpuTimeMs(child.pid);
    const wait = since + settleMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const field = (name: string) =>
      Number(status.match(new RegExp(`${name}:\\s+(\\d+) kB`))?.[1]) * 1024;
    return { ms, cpuMs, rss: field("VmRSS"), peak: field("VmHWM") };
  } finally {
    await child.stop();
  }
}

/** User plus system CPU time of process `pid` so far, in milliseconds. */
function cpuTimeMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the file, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const cpus = await detectCpus();
await pinSelf(cpus);
const dir = await Deno.makeTempDir({ prefix: "startup-ab-" });
const sink = await startSink({ logFile: `${dir}/sink.log`, cpus });
const sides = [
  { name: "A", root: Deno.realPathSync(values.a), fresh: [] as Start[], warm: [] as Start[] },
  { name: "B", root: Deno.realPathSync(values.b!), fresh: [] as Start[], warm: [] as Start[] },
];
const settleMs = Number(values.settle);
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const side of rotate(sides, round)) {
      const dataDir = await Deno.makeTempDir({ dir, prefix: `data-${side.name}-` });
      const log = `${dir}/host-${side.name}-${round}`;
      const fresh = await startOnce(
        side.root,
        dataDir,
        sink.endpoint,
        cpus,
        `${log}-fresh.log`,
        settleMs,
      );
      side.fresh.push(fresh);
      let line = `round ${round + 1} ${side.name}: fresh ${
        fresh.ms.toFixed(0)
      } ms (CPU ${fresh.cpuMs}), RSS ${mib(fresh.rss)} MiB (peak ${mib(fresh.peak)})`;
      if (values.warm) {
        const warm = await startOnce(
          side.root,
          dataDir,
          sink.endpoint,
          cpus,
          `${log}-warm.log`,
          settleMs,
        );
        side.warm.push(warm);
        line += `; existing ${warm.ms.toFixed(0)} ms (CPU ${warm.cpuMs}), RSS ${
          mib(warm.rss)
        } MiB (peak ${mib(warm.peak)})`;
      }
      console.log(line);
    }
  }
  for (const side of sides) {
    const summary = (starts: Start[]) =>
      `${median(starts.map((s) => s.ms)).toFixed(0)} ms (CPU ${
        median(starts.map((s) => s.cpuMs))
      }), RSS ${mib(median(starts.map((s) => s.rss)))} MiB, peak ${
        mib(median(starts.map((s) => s.peak)))
      } MiB`;
    console.log(
      `median ${side.name} (${side.root}): fresh ${summary(side.fresh)}` +
        (values.warm ? `; existing ${summary(side.warm)}` : ""),
    );
  }
} finally {
  await sink.stop();
  // Removed only now (or never, with --keep, for runs back to back): ext4 passes over inodes
  // freed in the last half minute when it makes new ones, so removing each start's folder at once
  // slowed the next start's unpack ever more.
  if (!values.keep) {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
    }
  }
  console.log(`logs in ${dir}`);
}
