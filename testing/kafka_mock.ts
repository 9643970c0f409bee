/**
 * librdkafka's mock cluster, started with Debian's `kcat`: a real Kafka-protocol peer on a
 * random port for tests and benchmarks. It tells its address only in its debug output, which is
 * read until then and drained afterwards (a full pipe would stall it).
 *
 * @example
 * ```ts
 * import { MockKafka } from "./kafka_mock.ts";
 * const kafka = await MockKafka.start();
 * console.log(kafka.brokers); // 127.0.0.1:PORT
 * await kafka.stop();
 * ```
 * @module
 */

/** Options of {@linkcode MockKafka.start}. */
export interface MockKafkaOptions {
  /** The CPU to pin it to with `taskset` (benchmarks keep it off the measured CPU). */
  readonly cpu?: number;
}

/** A one-broker mock cluster of its own. */
export class MockKafka {
  private constructor(
    /** `host:port` of its broker, for `KAFKA_BROKERS`. */
    readonly brokers: string,
    readonly child: Deno.ChildProcess,
  ) {}

  /** Starts a cluster and waits (up to 15 s) for its bootstrap address. */
  static async start(options: MockKafkaOptions = {}): Promise<MockKafka> {
    const kcat = ["kcat", "-X", "test.mock.num.brokers=1", "-b", "localhost:1", "-C"];
    const argv = [...kcat, "-t", "keepalive", "-d", "mock"];
    if (options.cpu !== undefined) argv.unshift("taskset", "-c", String(options.cpu));
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const timer = setTimeout(() => reader.cancel(), 15_000);
    let text = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text = (text + value).slice(-4096);
        const brokers = /bootstrap\.servers=([\d.]+:\d+)/.exec(text)?.[1];
        if (brokers === undefined) continue;
        (async () => {
          while (!(await reader.read()).done) { /* drained */ }
        })().catch(() => {});
        return new MockKafka(brokers, child);
      }
    } finally {
      clearTimeout(timer);
    }
    child.kill("SIGKILL");
    await child.status;
    throw new Error("the kcat mock cluster did not print its bootstrap address within 15 s");
  }

  /** Freezes the broker: connections stay open and nothing answers. */
  pause(): void {
    this.child.kill("SIGSTOP");
  }

  /** Thaws the broker, with its topics, messages and group offsets intact. */
  resume(): void {
    this.child.kill("SIGCONT");
  }

  /** Kills it and waits until it is gone. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.child.status;
  }
}
