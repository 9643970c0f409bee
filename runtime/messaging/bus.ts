/**
 * The seam between Kafka-triggered functions and what carries their messages: a Kafka cluster
 * through kafkajs, or the embedded bus. Both deliver batches per partition, at least once, and
 * commit only offsets the runner resolved, so functions cannot tell them apart.
 *
 * @example
 * ```ts
 * import type { Bus } from "./bus.ts";
 * async function publish(bus: Bus) {
 *   const delivery = await bus.send("Purchase", { key: "id", value: "{}", headers: {} });
 *   console.log(delivery.partition, delivery.offset);
 * }
 * ```
 * @module
 */
import type { Delivery } from "../function.ts";
import { type BatchInfo, utf8Length } from "./linger.ts";

/** A message to append to a topic. */
export interface BusMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where a message was stored, and the batch it went out in (when the bus batches). */
export interface BusDelivery extends Delivery {
  readonly batch?: BatchInfo;
}

/** About what a message adds to a produce request (its record overhead aside). */
export function messageBytes(message: BusMessage): number {
  let bytes = utf8Length(message.key) + utf8Length(message.value);
  for (const name in message.headers) {
    bytes += utf8Length(name) + utf8Length(message.headers[name]);
  }
  return bytes;
}

/** A message read from a partition. */
export interface StoredMessage {
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Unix milliseconds, as a string like Kafka's. */
  readonly timestamp: string;
}

/** Consecutive messages of one partition. */
export interface Batch {
  readonly topic: string;
  readonly partition: number;
  /** The offset the next appended message will get. */
  readonly highWatermark: string;
  readonly messages: readonly StoredMessage[];
}

/** What a batch handler may do while it works. */
export interface BatchControl {
  /** Marks `offset` and every earlier one done; done offsets are committed after the batch. */
  resolveOffset(offset: string): void;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: leave the rest for redelivery. */
  isRunning(): boolean;
  /** True when a rebalance took the partition away. */
  isStale(): boolean;
  /**
   * The partition's high watermark now, when the bus knows it without a request (the embedded
   * bus): consumer lag then counts what arrived while a long batch was being handled.
   */
  highWatermark?(): string;
}

/** Handles one batch; throwing makes the bus redeliver everything not committed. */
export type BatchHandler = (batch: Batch, control: BatchControl) => Promise<void>;

/** A running consumer of one topic in one group. */
export interface Subscription {
  /** True while the consumer is a member of its group and fetching. */
  ready(): boolean;
  /** Finishes the batch in hand, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Where messages go and come from. */
export interface Bus {
  /** For span attributes: the broker contacted, if the bus has one (the embedded bus does not). */
  readonly server?: { readonly address: string; readonly port: number };
  /** For span attributes (`messaging.client.id`): the Kafka client id the bus identifies as. */
  readonly clientId: string;
  /** Appends a message; resolves once it is durably stored (acks=all on Kafka). */
  send(topic: string, message: BusMessage): Promise<BusDelivery>;
  /** Starts consuming `topic` as a member of `group`, from the earliest offset for a new group. */
  subscribe(group: string, topic: string, onBatch: BatchHandler): Promise<Subscription>;
  /** Resolves when the bus answers a metadata request. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
