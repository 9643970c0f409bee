/**
 * One side of the Kafka pair, as its own process: consumes `--count` messages of `--topic` in a
 * fresh `--group`, then writes when it handled the first and the last one to `--result`.
 *
 * - `--mode bare`: a kafkajs consumer with the host's settings (`kafka_settings.ts`: eachBatch,
 *   4 partitions at once, offsets resolved and a heartbeat per message, commits after each batch)
 *   running the benchmark's record handler without telemetry.
 * - `--mode host`: `startHost` with one Kafka-triggered function running the same handler, so
 *   each message goes through the host's consumer path (a CONSUMER span per message, context from
 *   the headers, metrics, the logger) with telemetry exported to `OTEL_EXPORTER_OTLP_ENDPOINT`.
 *
 * ```sh
 * deno run -A bench/kafka_consumer.ts --mode host --brokers 127.0.0.1:9092 --topic t \
 *   --group g --count 10000 --result /tmp/result.json
 * ```
 * @module
 */
import { Kafka } from "kafkajs";
import { parseArgs } from "node:util";
import { services } from "../functions/mod.ts";
import { loadConfig } from "../runtime/config.ts";
import { startHost } from "../runtime/host.ts";
import { defineService, type IncomingMessage, type Logger } from "../runtime/mod.ts";
import { handleRecord, silentLog } from "./handler.ts";
import {
  clientSettings,
  consumerSettings,
  RUN_SETTINGS,
  SESSION_TIMEOUT_MS,
} from "./kafka_settings.ts";

/** What a consumer process reports. */
export interface ConsumerResult {
  readonly count: number;
  /** From the start of the first message's handling to the end of the last one's. */
  readonly ms: number;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string" },
    brokers: { type: "string" },
    topic: { type: "string" },
    group: { type: "string" },
    count: { type: "string" },
    result: { type: "string" },
  },
});
const count = Number(values.count);
let handled = 0;
let first = 0;
let finish: (() => void) | undefined;
const finished = new Promise<void>((resolve) => finish = resolve);

function handle(record: IncomingMessage, log: Logger): void {
  if (handled === 0) first = performance.now();
  handleRecord(record, log);
  if (++handled === count) {
    const result: ConsumerResult = { count: handled, ms: performance.now() - first };
    Deno.writeTextFileSync(values.result!, JSON.stringify(result));
    finish!();
  }
}

async function runBare(): Promise<void> {
  const decoder = new TextDecoder();
  const kafka = new Kafka(clientSettings(values.brokers!.split(",")));
  const consumer = kafka.consumer(consumerSettings(values.group!));
  await consumer.connect();
  await consumer.subscribe({ topic: values.topic!, fromBeginning: true });
  await consumer.run({
    ...RUN_SETTINGS,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) return;
        handle({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key === null ? null : decoder.decode(message.key),
          value: message.value === null ? "" : decoder.decode(message.value),
          headers: {},
          timestamp: new Date(Number(message.timestamp)),
        }, silentLog);
        resolveOffset(message.offset);
        await heartbeat();
      }
    },
  });
  await finished;
  await consumer.disconnect();
}

async function runHost(): Promise<void> {
  const consumerService = defineService({
    name: "app2",
    port: 8002,
    uses: [],
    consumers: [{
      name: "bench-consume",
      topic: values.topic!,
      group: values.group!,
      handle: (record, ctx) => {
        handle(record, ctx.log);
        return Promise.resolve();
      },
    }],
  });
  const host = await startHost(
    loadConfig(
      {
        ...Deno.env.toObject(),
        SERVICES: "app2",
        HOST: "127.0.0.1",
        APP2_PORT: "0",
        KAFKA_BROKERS: values.brokers!,
        KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      },
      [],
      { ...services, app2: consumerService },
    ),
    { ...services, app2: consumerService },
  );
  await finished;
  await host.stop();
}

if (values.mode === "bare") await runBare();
else if (values.mode === "host") await runHost();
else throw new Error(`--mode must be bare or host, not ${values.mode}`);
Deno.exit(0);
