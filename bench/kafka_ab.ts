/**
 * An interleaved A/B of the host's Kafka consumer path between two checkouts of this repository:
 * one topic preloaded on the mock broker, then each checkout's own `bench/kafka_consumer.ts
 * --mode host` (and, with `--bare`, the bare kafkajs side) consumes it in a fresh group, pinned
 * to the server CPU, taking turns (each round starts with another side), so the machine's noise
 * falls on all of them. Reports msg/s and the consumer's CPU time per message over the measured
 * window (sampled from /proc; far less moved by other load than msg/s), each round's B/A and the
 * medians.
 *
 * ```sh
 * deno run -A bench/kafka_ab.ts --a ../main --b . [--messages 20000] [--rounds 5] [--bare]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { MockKafka } from "../testing/kafka_mock.ts";
import { preload } from "./kafka.ts";
import type { ConsumerResult } from "./kafka_consumer.ts";
import { type Sink, startSink } from "./otlp_sink.ts";
import { cpuTimeUs, denoRun, detectCpus, pinSelf, spawnChild } from "./process.ts";
import { median, rotate } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    messages: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    bare: { type: "boolean", default: false },
  },
});
if (!values.a) throw new Error("--a <checkout> is required");

interface Side {
  readonly name: string;
  readonly root: string;
  readonly mode: "host" | "bare";
  readonly rates: number[];
  /** The consumer's CPU time per message over the measured window, in microseconds. */
  readonly cpuUs: number[];
}

const cpus = await detectCpus();
await pinSelf(cpus);
const dir = await Deno.makeTempDir({ prefix: "bench-kafka-ab-" });
const messages = Number(values.messages);

/**
 * Runs one side over the topic; the CPU of the measured window is read off samples taken every
 * 10 ms: the window ends when the result file appears and lasts the `ms` the consumer reports.
 */
async function run(side: Side, brokers: string, topic: string, sink: Sink, round: number) {
  const result = `${dir}/${side.name}-${round}.json`;
  const child = spawnChild(
    denoRun(
      `${side.root}/bench/kafka_consumer.ts`,
      ...["--mode", side.mode, "--brokers", brokers, "--topic", topic],
      ...["--group", `ab-${side.name}-${round}-${Date.now()}`, "--count", String(messages)],
      ...["--result", result],
    ),
    {
      logFile: `${dir}/${side.name}.log`,
      cpus,
      cpu: cpus.server,
      env: side.mode === "host" ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint } : {},
    },
  );
  const samples: Array<[number, number]> = [];
  let ended: number | undefined;
  let exited = false;
  child.exited.then(() => exited = true);
  const timeout = performance.now() + 180_000;
  while (!exited && performance.now() < timeout) {
    const cpu = cpuTimeUs(child.pid);
    const now = performance.now();
    if (cpu !== undefined) samples.push([now, cpu]);
    if (ended === undefined) {
      try {
        Deno.statSync(result);
        ended = now;
      } catch { /* not yet */ }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!exited) await child.stop(2000);
  if ((await child.exited) !== 0) throw new Error(`${side.name} exited badly; see its log`);
  const { count, ms }: ConsumerResult = JSON.parse(Deno.readTextFileSync(result));
  ended ??= samples.at(-1)![0];
  const at = (time: number) => samples.findLast(([when]) => when <= time)?.[1] ?? 0;
  const cpu = at(ended) - at(ended - ms);
  side.rates.push(count / (ms / 1000));
  side.cpuUs.push(cpu / count);
  return { rate: count / (ms / 1000), cpuUs: cpu / count };
}

const sides: Side[] = [
  { name: "a", root: Deno.realPathSync(values.a), mode: "host", rates: [], cpuUs: [] },
  { name: "b", root: Deno.realPathSync(values.b!), mode: "host", rates: [], cpuUs: [] },
];
if (values.bare) {
  sides.push({ name: "bare", root: Deno.realPathSync("."), mode: "bare", rates: [], cpuUs: [] });
}

const mock = await MockKafka.start({ cpu: cpus.pinned ? cpus.load : undefined });
const sink = await startSink({ logFile: `${dir}/sink.log`, cpus });
try {
  const topic = `ab-${Date.now()}`;
  await preload(mock.brokers, topic, messages);
  const rounds = Number(values.rounds);
  for (let round = 0; round < rounds; round++) {
    for (const side of rotate(sides, round)) {
      await sink.reset();
      const { rate, cpuUs } = await run(side, mock.brokers, topic, sink, round);
      const stats = side.mode === "host" ? await sink.stats() : undefined;
      console.log(
        `round ${round + 1} ${side.name}: ${rate.toFixed(0)} msg/s, ${cpuUs.toFixed(1)} µs CPU/msg${
          stats ? `, ${stats.spans} spans and ${stats.logs} log records exported` : ""
        }`,
      );
    }
  }
  const [a, b] = sides;
  for (const side of sides) {
    console.log(
      `${side.name} (${side.root}, ${side.mode}): median ${median(side.rates).toFixed(0)} msg/s, ${
        median(side.cpuUs).toFixed(1)
      } µs CPU/msg`,
    );
  }
  const paired = median(a.rates.map((rate, i) => b.rates[i] / rate));
  const pairedCpu = median(a.cpuUs.map((cpu, i) => b.cpuUs[i] / cpu));
  console.log(
    `B/A msg/s ${(median(b.rates) / median(a.rates)).toFixed(3)} (rounds' median ${
      paired.toFixed(3)
    }); B/A CPU per message ${pairedCpu.toFixed(3)}`,
  );
  if (values.bare) {
    const bare = median(sides[2].rates);
    console.log(
      `vs bare ${bare.toFixed(0)} msg/s: A ratio ${(median(a.rates) / bare).toFixed(3)}, B ratio ${
        (median(b.rates) / bare).toFixed(3)
      }`,
    );
  }
} finally {
  await sink.stop();
  await mock.stop();
}
