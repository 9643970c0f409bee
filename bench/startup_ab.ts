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
import { type Cpus, cpuTimeUs, detectCpus, pinSelf } from "./process.ts";
import { memoryAt, startTimed } from "./startup.ts";
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

/** One start of the host in `root` on `dataDir`: time to the first 2xx, memory at `settleMs`. */
async function startOnce(
  root: string,
  dataDir: string,
  endpoint: string,
  cpus: Cpus,
  logFile: string,
  settleMs: number,
): Promise<Start> {
  const main = `${root}/runtime/main.ts`;
  const { child, ms, since } = await startTimed({ dataDir, endpoint, cpus, logFile, main });
  try {
    const cpuMs = cpuTimeUs(child.pid)! / 1000;
    return { ms, cpuMs, ...await memoryAt(child, since, settleMs) };
  } finally {
    await child.stop();
  }
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
