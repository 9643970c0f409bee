/**
 * An interleaved A/B of the host's HTTP path between two checkouts of this repository (say, main
 * in a spare worktree and a branch): both hosts run side by side, each pinned to the server CPU
 * with an OTLP sink of its own, and wrk drives them in turns (each round starts with the other
 * side), so the machine's noise falls on both. Prints each run and the medians.
 *
 * ```sh
 * deno run -A bench/ab.ts --a ../main --b . [--variant host|host_console|host,host_console]
 *   [--rounds 6] [--seconds 4]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { MESSAGE_PATH } from "./handler.ts";
import { type Sink, startSink } from "./otlp_sink.ts";
import {
  type Child,
  cpuTimeUs,
  denoRun,
  detectCpus,
  freePort,
  pinSelf,
  spawnChild,
  waitForHttp,
} from "./process.ts";
import { median, rotate } from "./stats.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    variant: { type: "string", default: "host" },
    rounds: { type: "string", default: "6" },
    seconds: { type: "string", default: "4" },
  },
});
if (!values.a) throw new Error("--a <checkout> is required");

interface Side {
  readonly name: string;
  readonly url: string;
  readonly child: Child;
  readonly sink: Sink;
  readonly runs: WrkResult[];
  /** CPU time the host process spent per request in each run, in microseconds. */
  readonly cpuUs: number[];
}

const cpus = await detectCpus();
await pinSelf(cpus);
const dir = await Deno.makeTempDir({ prefix: "bench-ab-" });

// `--variant host,host_console` runs A as the first and B as the second (same checkout or not).
const [variantA, variantB = variantA] = values.variant!.split(",");

async function start(name: string, root: string, variant: string): Promise<Side> {
  const sink = await startSink({ logFile: `${dir}/sink-${name}.log`, cpus });
  const port = freePort();
  const child = spawnChild(denoRun(`${Deno.realPathSync(root)}/bench/host_server.ts`), {
    logFile: `${dir}/host-${name}.log`,
    cpus,
    cpu: cpus.server,
    env: {
      APP1_PORT: String(port),
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      ...(variant === "host_console" ? { CONSOLE_PORT: String(freePort()) } : { CONSOLE: "off" }),
    },
  });
  const url = `http://127.0.0.1:${port}${MESSAGE_PATH}`;
  await waitForHttp(url, {
    child,
    timeoutMs: 60_000,
    init: () => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"content":"probe"}',
    }),
  });
  return { name, url, child, sink, runs: [], cpuUs: [] };
}

const sides = [await start("a", values.a, variantA), await start("b", values.b!, variantB)];
try {
  for (const side of sides) await runWrk({ url: side.url, seconds: 2, cpus });
  const rounds = Number(values.rounds);
  for (let round = 0; round < rounds; round++) {
    for (const side of rotate(sides, round)) {
      const before = cpuTimeUs(side.child.pid)!;
      const result = await runWrk({ url: side.url, seconds: Number(values.seconds), cpus });
      const cpu = (cpuTimeUs(side.child.pid)! - before) / result.requests;
      side.runs.push(result);
      side.cpuUs.push(cpu);
      console.log(
        `round ${round + 1} ${side.name}: ${result.rps.toFixed(0)} req/s, ${
          cpu.toFixed(1)
        } µs CPU/request`,
      );
    }
  }
  await Promise.all(sides.map((side) => side.child.stop()));
  const [a, b] = sides.map((side) => median(side.runs.map((run) => run.rps)));
  for (const side of sides) {
    const stats = await side.sink.stats();
    const sent = side.runs.reduce((sum, run) => sum + run.requests, 0);
    console.log(
      `${side.name}: sink got ${stats.spans} spans, ${stats.logs} logs (${sent} timed requests)`,
    );
  }
  const [cpuA, cpuB] = sides.map((side) => median(side.cpuUs));
  const pairedCpu = median(sides[0].cpuUs.map((cpu, i) => sides[1].cpuUs[i] / cpu));
  // CPU time per request hardly depends on what else runs on the machine, unlike req/s.
  console.log(
    `CPU per request: A ${cpuA.toFixed(1)} µs, B ${cpuB.toFixed(1)} µs, B/A ${
      (cpuB / cpuA).toFixed(3)
    }, median of the rounds' B/A ${pairedCpu.toFixed(3)}`,
  );
  // Each round's own B/A as well: the two runs of a round are seconds apart, so a load that
  // comes and goes on the machine moves both.
  const paired = median(sides[0].runs.map((run, i) => sides[1].runs[i].rps / run.rps));
  console.log(
    `${values.variant} A ${a.toFixed(0)} req/s, B ${b.toFixed(0)} req/s, B/A ${
      (b / a).toFixed(3)
    }, median of the rounds' B/A ${paired.toFixed(3)}`,
  );
} finally {
  await Promise.all(sides.map(async (side) => {
    await side.child.stop();
    await side.sink.stop();
  }));
}
