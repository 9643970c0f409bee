/**
 * The Kafka pair: a bare kafkajs consumer against the host's consumer path, each in its own
 * process on the server CPU, consuming the same preloaded topic on the mock broker in fresh groups,
 * taking turns; medians of messages per second from the first message handled to the last.
 *
 * @example
 * ```ts
 * import { runKafkaBench } from "./kafka.ts";
 * // const result = await runKafkaBench({ brokers, messages: 20_000, rounds: 3, ... });
 * ```
 * @module
 */
import { Kafka, logLevel, Partitioners } from "kafkajs";
import type { ConsumerResult } from "./kafka_consumer.ts";
import { type Sink, type SinkStats, startSink } from "./otlp_sink.ts";
import { type Cpus, denoRun, spawnChild } from "./process.ts";
import { median, rotate } from "./stats.ts";

/** Settings of {@linkcode runKafkaBench}. */
export interface KafkaBenchOptions {
  readonly brokers: string;
  readonly messages: number;
  readonly rounds: number;
  readonly cpus: Cpus;
  readonly workDir: string;
  readonly progress: (line: string) => void;
}

/** One side's runs. */
export interface KafkaSideResult {
  readonly runs: readonly number[];
  /** Median messages per second. */
  readonly rate: number;
}

/** The Kafka benchmark's results. */
export interface KafkaBenchResult {
  readonly messages: number;
  readonly bare: KafkaSideResult;
  readonly host: KafkaSideResult;
  /** host rate / bare rate. */
  readonly ratio: number;
  /** Spans and log records the host exported per run (each should equal `messages`). */
  readonly hostSink: readonly SinkStats[];
}

/** Writes `count` messages like the seed's (JSON `{id, content}`, key = id, a `traceparent`). */
export async function preload(brokers: string, topic: string, count: number): Promise<void> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const hex = (bytes: number) =>
    Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
  try {
    for (let sent = 0; sent < count;) {
      const size = Math.min(1000, count - sent);
      const messages = Array.from({ length: size }, () => {
        const id = crypto.randomUUID();
        return {
          key: id,
          value: JSON.stringify({ id, content: "benchmark message" }),
          headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` },
        };
      });
      await producer.send({ topic, acks: -1, messages });
      sent += size;
    }
  } finally {
    await producer.disconnect();
  }
}

async function consume(
  mode: "bare" | "host",
  group: string,
  topic: string,
  options: KafkaBenchOptions,
  sink: Sink,
): Promise<ConsumerResult> {
  const result = `${options.workDir}/kafka-${group}.json`;
  const child = spawnChild(
    denoRun(
      new URL("./kafka_consumer.ts", import.meta.url).pathname,
      ...["--mode", mode, "--brokers", options.brokers, "--topic", topic, "--group", group],
      ...["--count", String(options.messages), "--result", result],
    ),
    {
      logFile: `${options.workDir}/kafka-${mode}.log`,
      cpus: options.cpus,
      cpu: options.cpus.server,
      env: mode === "host" ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint } : {},
    },
  );
  const timer = setTimeout(() => child.stop(2000), 180_000);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the ${mode} consumer exited with ${code}; see its log`);
  return JSON.parse(Deno.readTextFileSync(result));
}

/** Runs the Kafka benchmark. */
export async function runKafkaBench(options: KafkaBenchOptions): Promise<KafkaBenchResult> {
  const topic = `bench-${Date.now()}`;
  const started = performance.now();
  await preload(options.brokers, topic, options.messages);
  options.progress(
    `kafka: preloaded ${options.messages} messages to ${topic} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  const sink = await startSink({
    logFile: `${options.workDir}/sink-kafka.log`,
    cpus: options.cpus,
  });
  const runs = { bare: [] as number[], host: [] as number[] };
  const hostSink: SinkStats[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const mode of rotate(["bare", "host"] as const, round)) {
        await sink.reset();
        const result = await consume(
          mode,
          `bench-${mode}-${round}-${Date.now()}`,
          topic,
          options,
          sink,
        );
        const rate = result.count / (result.ms / 1000);
        runs[mode].push(rate);
        let spans = "";
        if (mode === "host") {
          const stats = await sink.stats();
          hostSink.push(stats);
          spans = `, ${stats.spans} spans and ${stats.logs} log records exported`;
        }
        options.progress(
          `kafka round ${round + 1}/${options.rounds} ${mode}: ${rate.toFixed(0)} msg/s (${
            result.ms.toFixed(0)
          } ms for ${result.count})${spans}`,
        );
      }
    }
  } finally {
    await sink.stop();
  }
  const bare = { runs: runs.bare, rate: median(runs.bare) };
  const host = { runs: runs.host, rate: median(runs.host) };
  return { messages: options.messages, bare, host, ratio: host.rate / bare.rate, hostSink };
}
