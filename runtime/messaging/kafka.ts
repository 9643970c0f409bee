/**
 * The Kafka bus, on kafkajs: one producer (acks=all) for the host and one consumer per function,
 * each consumer committing only the offsets its handler resolved. A crashed consumer is started
 * again after a pause, so a broker outage heals without a restart.
 *
 * kafkajs sends each `send` call as its own produce request; the bus batches instead, like
 * librdkafka's `linger.ms`: sends within the linger go out as one request (a record batch per
 * partition), and each caller gets its own partition and offset, computed from the partition's
 * base offset in the broker's answer and the message's place in the batch.
 *
 * @example
 * ```ts
 * import { connectKafka } from "./kafka.ts";
 * import { createLogger } from "../log.ts";
 * const bus = connectKafka(["127.0.0.1:9092"], {
 *   log: createLogger({ service: "host", level: "info" }),
 *   sessionTimeoutMs: 10_000,
 * });
 * // await bus.send("Purchase", { key: "id", value: "{}", headers: {} });
 * await bus.close();
 * ```
 * @module
 */
import {
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import process from "node:process";
import { DependencyUnavailableError } from "../errors.ts";
import type { Delivery, Logger } from "../function.ts";
import {
  type Bus,
  type BusDelivery,
  type BusMessage,
  messageBytes,
  type StoredMessage,
  type Subscription,
} from "./bus.ts";
import { type BatchLimits, DEFAULT_BATCH_LIMITS, LingerBatcher } from "./linger.ts";

/** Options of {@linkcode connectKafka}. */
export interface KafkaOptions {
  readonly log: Logger;
  readonly sessionTimeoutMs: number;
  readonly clientId?: string;
  /** How sends are batched into produce requests. */
  readonly batch?: BatchLimits;
}

interface Outgoing {
  readonly topic: string;
  readonly message: Message;
}

const decoder = new TextDecoder();

/** Kafka header values arrive as bytes (or arrays of them); functions see strings. */
function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out[name] = typeof first === "string" ? first : decoder.decode(first);
  }
  return out;
}

/** Routes kafkajs's own log lines into the host log, at warn and above. */
function kafkaLog(log: Logger) {
  return () => ({ namespace, level, log: entry }: LogEntry) => {
    const { message, ...fields } = entry;
    const record = { namespace, broker: fields.broker, error: fields.error };
    if (level === logLevel.ERROR) log.error(`kafkajs: ${message}`, record);
    else if (level === logLevel.WARN) log.warn(`kafkajs: ${message}`, record);
  };
}

let warningsRouted = false;

/**
 * kafkajs arms a timer with a negative delay when its request queue is idle (harmless: it fires
 * at once), and Node's compatibility layer prints a warning to stderr each time. Process warnings
 * go to the host log instead, without that one.
 */
function routeProcessWarnings(log: Logger): void {
  if (warningsRouted) return;
  warningsRouted = true;
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name !== "TimeoutNegativeWarning") {
      log.warn("runtime warning", { name: warning.name, warning: warning.message });
    }
  });
}

/** Connects lazily to the brokers. */
export function connectKafka(brokers: readonly string[], options: KafkaOptions): Bus {
  const { log } = options;
  routeProcessWarnings(log);
  const clientId = options.clientId ?? "otel-functions";
  const kafka = new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: 3000,
    requestTimeout: 5000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLog(log),
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
  });
  const [address, port] = brokers[0].split(":");
  let producer: Promise<Producer> | undefined;
  const admin = kafka.admin({ retry: { retries: 0 } });
  let adminConnected: Promise<void> | undefined;
  const subscriptions = new Set<Subscription>();

  // The partition kafkajs's default partitioner (murmur2 of the key) chose for each message.
  const partitionOf = new WeakMap<Message, number>();
  const connectProducer = (): Promise<Producer> => {
    producer ??= (async () => {
      const created = kafka.producer({
        allowAutoTopicCreation: true,
        createPartitioner: () => {
          const keyed = Partitioners.DefaultPartitioner();
          return (args) => {
            const partition = keyed(args);
            partitionOf.set(args.message, partition);
            return partition;
          };
        },
        // A caller waits at most two request timeouts for its 503 when the broker is gone.
        retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      await created.connect();
      return created;
    })().catch((error) => {
      producer = undefined;
      throw error;
    });
    return producer;
  };

  /** One produce request for the whole batch; each message's offset from its partition's base. */
  const sendBatch = async (items: Outgoing[]): Promise<Delivery[]> => {
    const connected = await connectProducer();
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of items) {
      let messages = byTopic.get(topic);
      if (messages === undefined) byTopic.set(topic, messages = []);
      messages.push(message);
    }
    const stored = await connected.sendBatch({
      acks: -1,
      timeout: 5000,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    // kafkajs keeps the order of the messages within each partition's record batch.
    const next = new Map<string, bigint>();
    for (const { topicName, partition, baseOffset } of stored) {
      next.set(`${partition}:${topicName}`, BigInt(baseOffset ?? "0"));
    }
    return items.map(({ topic, message }) => {
      const partition = partitionOf.get(message);
      const slot = `${partition}:${topic}`;
      const offset = next.get(slot);
      if (partition === undefined || offset === undefined) {
        throw new Error(`the broker's answer does not cover partition ${partition} of ${topic}`);
      }
      next.set(slot, offset + 1n);
      return { topic, partition, offset: String(offset) };
    });
  };
  const batcher = new LingerBatcher<Outgoing, Delivery>(
    options.batch ?? DEFAULT_BATCH_LIMITS,
    sendBatch,
  );

  return {
    server: { address, port: Number(port) || 9092 },
    clientId,
    async send(topic: string, message: BusMessage): Promise<BusDelivery> {
      const outgoing = {
        topic,
        message: { key: message.key, value: message.value, headers: { ...message.headers } },
      };
      try {
        const { result, batch } = await batcher.add(outgoing, messageBytes(message));
        return { ...result, batch };
      } catch (error) {
        throw new DependencyUnavailableError("kafka", error);
      }
    },
    async subscribe(group, topic, onBatch) {
      const subscription = new KafkaSubscription(kafka, group, topic, onBatch, options);
      await subscription.start();
      subscriptions.add(subscription);
      return subscription;
    },
    async ping() {
      try {
        adminConnected ??= admin.connect();
        await adminConnected;
        await admin.describeCluster();
      } catch (error) {
        // Start afresh next time: a connection that timed out may never answer again.
        const stale = adminConnected;
        adminConnected = undefined;
        await stale?.then(() => admin.disconnect()).catch(() => {});
        throw new DependencyUnavailableError("kafka", error);
      }
    },
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      await batcher.close();
      const connected = await producer?.catch(() => undefined);
      await connected?.disconnect().catch(() => {});
      if (adminConnected) await admin.disconnect().catch(() => {});
    },
  };
}

/**
 * How many fetched messages of one partition may wait for the handler before its fetching pauses.
 * Fetching runs ahead of the handler, so a broker that answers a fetch with one record batch per
 * partition (librdkafka's mock cluster does) still gives the handler everything that arrived while
 * it worked, as one batch, instead of one small record batch per round trip.
 */
const PREFETCH_MESSAGES = 2000;
/** How often, at most, a busy partition's handled offsets are committed (and always at a batch's end). */
const COMMIT_EVERY_MS = 200;

/** One partition's fetched messages waiting for the handler, and what of them is done. */
interface PartitionPipeline {
  readonly partition: number;
  queued: StoredMessage[];
  highWatermark: string;
  inFlight: number;
  draining: Promise<void> | undefined;
  /** kafkajs's controls from the partition's latest fetch. */
  latest: EachBatchPayload;
  /** Bumped when a rebalance or a restart makes what was fetched stale: it is fetched again. */
  epoch: number;
  /** The offset after the last message handled (with all before it), and the one committed. */
  done: string | undefined;
  committed: string | undefined;
  committing: Promise<void> | undefined;
  lastCommitAt: number;
  /** Wakes a fetch waiting for room in the queue. */
  wake: (() => void) | undefined;
}

/**
 * One consumer group member, restarted after a crash kafkajs does not recover from itself.
 * kafkajs's fetch position moves past each batch as soon as it is queued; what is committed
 * (kafkajs's auto-commit is off) is only ever the offset below which every message was handled,
 * so a crash or a rebalance redelivers what was fetched but not done, and never skips it.
 */
class KafkaSubscription implements Subscription {
  #consumer: Consumer | undefined;
  #joined = false;
  #stopped = false;
  /**
   * Set when a batch failed: its messages were dropped but kafkajs's fetch position is past them,
   * so nothing more is taken (and nothing committed past them) until the restart fetches again
   * from the last commit.
   */
  #halted = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #pipelines = new Map<number, PartitionPipeline>();

  constructor(
    private readonly kafka: Kafka,
    private readonly group: string,
    private readonly topic: string,
    private readonly onBatch: Parameters<Bus["subscribe"]>[2],
    private readonly options: KafkaOptions,
  ) {}

  ready(): boolean {
    return this.#joined && !this.#stopped;
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.group,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(this.options.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: 100,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.#consumer = consumer;
    this.#halted = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.#joined = true;
      // A (re)join starts every partition's fetch again from its committed offset.
      this.#dropFetched();
    });
    consumer.on(consumer.events.DISCONNECT, () => this.#joined = false);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.#joined = false;
      this.options.log.warn("kafka consumer crashed", {
        group: this.group,
        topic: this.topic,
        error: payload.error,
        restarting: payload.restart ? "by kafkajs" : "by the host",
      });
      if (!payload.restart) this.#scheduleRestart();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 4,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.#fetched(payload),
      });
    } catch (error) {
      this.options.log.warn("kafka consumer could not start; retrying", {
        group: this.group,
        topic: this.topic,
        error: error as Error,
      });
      this.#scheduleRestart();
    }
  }

  /** Queues a fetched batch for its partition's handler and lets kafkajs fetch on. */
  async #fetched(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.#stopped || this.#halted || batch.messages.length === 0 || payload.isStale()) return;
    let pipeline = this.#pipelines.get(batch.partition);
    if (pipeline === undefined) {
      pipeline = {
        partition: batch.partition,
        queued: [],
        highWatermark: batch.highWatermark,
        inFlight: 0,
        draining: undefined,
        latest: payload,
        epoch: 0,
        done: undefined,
        committed: undefined,
        committing: undefined,
        lastCommitAt: 0,
        wake: undefined,
      };
      this.#pipelines.set(batch.partition, pipeline);
    }
    pipeline.latest = payload;
    pipeline.highWatermark = batch.highWatermark;
    for (const message of batch.messages) {
      pipeline.queued.push({
        offset: message.offset,
        key: message.key === null ? null : decoder.decode(message.key),
        value: message.value === null ? "" : decoder.decode(message.value),
        headers: decodeHeaders(message.headers),
        timestamp: message.timestamp,
      });
    }
    // The next fetch starts after this batch; nothing is committed by it (auto-commit is off).
    payload.resolveOffset(batch.lastOffset());
    pipeline.draining ??= this.#drain(pipeline);
    while (
      pipeline.queued.length + pipeline.inFlight > PREFETCH_MESSAGES && !this.#stopped &&
      !this.#halted &&
      payload.isRunning() && !payload.isStale()
    ) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        pipeline.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      await payload.heartbeat().catch(() => {});
    }
  }

  /** Hands the partition's queued messages to the handler, all that arrived as one batch. */
  async #drain(pipeline: PartitionPipeline): Promise<void> {
    try {
      while (pipeline.queued.length > 0 && !this.#stopped && !this.#halted) {
        const messages = pipeline.queued;
        pipeline.queued = [];
        pipeline.inFlight = messages.length;
        const epoch = pipeline.epoch;
        try {
          await this.onBatch({
            topic: this.topic,
            partition: pipeline.partition,
            highWatermark: pipeline.highWatermark,
            messages,
          }, {
            resolveOffset: (offset) => {
              if (pipeline.epoch !== epoch) return;
              pipeline.done = String(BigInt(offset) + 1n);
              if (performance.now() - pipeline.lastCommitAt >= COMMIT_EVERY_MS) {
                void this.#commit(pipeline);
              }
            },
            heartbeat: () => pipeline.latest.heartbeat(),
            isRunning: () => !this.#stopped && pipeline.latest.isRunning(),
            isStale: () => pipeline.epoch !== epoch,
            highWatermark: () => pipeline.highWatermark,
          });
        } finally {
          pipeline.inFlight = 0;
          pipeline.wake?.();
        }
        await this.#commit(pipeline);
      }
    } catch (error) {
      // As a throwing handler does on any bus: everything not committed is delivered again.
      this.options.log.warn("kafka consumer batch failed; fetching again from the last commit", {
        group: this.group,
        topic: this.topic,
        partition: pipeline.partition,
        error: error as Error,
      });
      this.#halted = true;
      this.#consumer?.pause([{ topic: this.topic }]);
      this.#dropFetched();
      this.#scheduleRestart();
    } finally {
      pipeline.draining = undefined;
    }
  }

  /** Commits what the partition's handler finished, once at a time. */
  async #commit(pipeline: PartitionPipeline): Promise<void> {
    await pipeline.committing;
    const offset = pipeline.done;
    if (offset === undefined || offset === pipeline.committed || !this.#consumer) return;
    pipeline.lastCommitAt = performance.now();
    pipeline.committing = this.#consumer
      .commitOffsets([{ topic: this.topic, partition: pipeline.partition, offset }])
      .then(() => {
        pipeline.committed = offset;
      }, (error) => {
        // Committed again with the next progress; until then a restart redelivers a little more.
        this.options.log.warn("kafka offset commit failed", {
          group: this.group,
          topic: this.topic,
          partition: pipeline.partition,
          error: error as Error,
        });
      })
      .finally(() => pipeline.committing = undefined);
    await pipeline.committing;
  }

  /** Forgets fetched messages not yet handed over; the running ones stop starting more. */
  #dropFetched(): void {
    for (const pipeline of this.#pipelines.values()) {
      pipeline.queued = [];
      pipeline.epoch++;
      pipeline.done = undefined;
      pipeline.wake?.();
    }
  }

  #scheduleRestart(): void {
    if (this.#stopped || this.#restartTimer !== undefined) return;
    this.#restartTimer = setTimeout(async () => {
      this.#restartTimer = undefined;
      await this.#consumer?.disconnect().catch(() => {});
      if (!this.#stopped) await this.start();
    }, 2000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    // The handlers finish what they started and commit it while this member still owns it.
    for (const pipeline of this.#pipelines.values()) pipeline.wake?.();
    await Promise.all([...this.#pipelines.values()].map((pipeline) => pipeline.draining));
    await this.#consumer?.disconnect().catch(() => {});
  }
}
