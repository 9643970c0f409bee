/**
 * librdkafka's mock cluster (through Debian's `kcat`) as the benchmark's broker: a real
 * Kafka-protocol peer on a random port, pinned to the load CPU. Its debug output (the only way it
 * tells its port) goes to a file that is emptied as it grows.
 *
 * @example
 * ```ts
 * import { startMockKafka } from "./kafka_mock.ts";
 * const mock = await startMockKafka({ logFile: "/tmp/mock.log" });
 * console.log(mock.brokers); // 127.0.0.1:PORT
 * await mock.stop();
 * ```
 * @module
 */
import { type Cpus, spawnChild } from "./process.ts";

/** A running mock cluster. */
export interface MockKafka {
  /** `host:port` of its one broker. */
  readonly brokers: string;
  /** Empties its log file. */
  truncateLog(): void;
  stop(): Promise<void>;
}

/** Starts a one-broker mock cluster. */
export async function startMockKafka(
  options: { readonly logFile: string; readonly cpus?: Cpus },
): Promise<MockKafka> {
  Deno.writeTextFileSync(options.logFile, "");
  const child = spawnChild(
    [
      "kcat",
      "-X",
      "test.mock.num.brokers=1",
      "-b",
      "localhost:1",
      "-C",
      "-t",
      "keepalive",
      "-d",
      "mock",
    ],
    { logFile: options.logFile, cpus: options.cpus, cpu: options.cpus?.load },
  );
  const until = performance.now() + 15_000;
  let brokers: string | undefined;
  while (brokers === undefined && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    brokers = Deno.readTextFileSync(options.logFile).match(/bootstrap\.servers=([\d.]+:\d+)/)?.[1];
  }
  if (brokers === undefined) {
    await child.stop();
    throw new Error("the Kafka mock cluster did not say its address (is kcat installed?)");
  }
  const truncateLog = () => Deno.truncateSync(options.logFile, 0);
  truncateLog();
  const timer = setInterval(truncateLog, 5000);
  return {
    brokers,
    truncateLog,
    async stop() {
      clearInterval(timer);
      await child.stop(3000);
      truncateLog();
    },
  };
}
