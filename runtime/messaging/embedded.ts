/**
 * The embedded event bus: Kafka's delivery model in-process. Topics have partitions chosen by
 * key, each an append-only log file; consumer groups keep their own committed offsets in a file;
 * delivery is at least once (what was not committed is delivered again, also after a crash).
 * Messages are on disk before `send` resolves, so a SIGKILL loses nothing acknowledged. Sends of
 * one turn of the event loop (or of a configured linger) are appended with one write per
 * partition, and become visible to consumers once written.
 *
 * @example
 * ```ts
 * import { EmbeddedBus } from "./embedded.ts";
 * const bus = await EmbeddedBus.open(await Deno.makeTempDir());
 * await bus.send("Purchase", { key: "id-1", value: "{}", headers: {} });
 * const subscription = await bus.subscribe("app2", "Purchase", async (batch, control) => {
 *   for (const message of batch.messages) control.resolveOffset(message.offset);
 * });
 * await subscription.stop();
 * await bus.close();
 * ```
 * @module
 */
import type { Delivery } from "../function.ts";
import {
  type BatchHandler,
  type Bus,
  type BusDelivery,
  type BusMessage,
  messageBytes,
  type StoredMessage,
  type Subscription,
} from "./bus.ts";
import { type BatchLimits, DEFAULT_BATCH_LIMITS, LingerBatcher } from "./linger.ts";

/** Partitions per topic, as the librdkafka mock cluster creates them. */
export const PARTITIONS = 4;
const MAX_BATCH = 100;
const encoder = new TextEncoder();

interface PartitionLog {
  /** Offset of `messages[0]`. */
  base: number;
  messages: StoredMessage[];
  readonly file: Deno.FsFile;
  readonly waiters: Set<() => void>;
}

/** Line format of a partition file. */
interface LogLine {
  o: number;
  k: string | null;
  v: string;
  h: Record<string, string>;
  t: string;
}

/** group → topic → partition → next offset to deliver. */
type Offsets = Record<string, Record<string, Record<string, number>>>;

/** FNV-1a, so a key always lands on the same partition (per-key order, as in Kafka). */
function partitionOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % PARTITIONS;
}

/** Options of {@linkcode EmbeddedBus.open}. */
export interface EmbeddedBusOptions {
  /** How appends are batched; by default what arrives in one turn of the event loop. */
  readonly batch?: BatchLimits;
}

interface Outgoing {
  readonly topic: string;
  readonly message: BusMessage;
}

/** An in-process bus whose logs and offsets live under one folder. */
export class EmbeddedBus implements Bus {
  readonly server = { address: "embedded-bus" };
  readonly #dir: string;
  readonly #topics = new Map<string, PartitionLog[]>();
  readonly #offsets: Offsets;
  readonly #subscriptions = new Set<EmbeddedSubscription>();
  readonly #batcher: LingerBatcher<Outgoing, Delivery>;
  #offsetWrite: Promise<void> = Promise.resolve();

  private constructor(dir: string, offsets: Offsets, options: EmbeddedBusOptions) {
    this.#dir = dir;
    this.#offsets = offsets;
    this.#batcher = new LingerBatcher(
      options.batch ?? { ...DEFAULT_BATCH_LIMITS, lingerMs: 0 },
      (items) => Promise.resolve(this.#append(items)),
    );
  }

  /** Opens the bus kept in `dir`, dropping messages every group has committed. */
  static async open(dir: string, options: EmbeddedBusOptions = {}): Promise<EmbeddedBus> {
    await Deno.mkdir(`${dir}/topics`, { recursive: true });
    let offsets: Offsets = {};
    try {
      offsets = JSON.parse(await Deno.readTextFile(`${dir}/offsets.json`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const bus = new EmbeddedBus(dir, offsets, options);
    for await (const entry of Deno.readDir(`${dir}/topics`)) {
      if (entry.isDirectory) await bus.#load(decodeURIComponent(entry.name));
    }
    return bus;
  }

  async send(topic: string, message: BusMessage): Promise<BusDelivery> {
    const { result, batch } = await this.#batcher.add({ topic, message }, messageBytes(message));
    return { ...result, batch };
  }

  /** Appends a batch: one write per partition, then the messages become visible. */
  #append(items: Outgoing[]): Delivery[] {
    const written = new Map<PartitionLog, { lines: string[]; stored: StoredMessage[] }>();
    const deliveries = items.map(({ topic, message }): Delivery => {
      const partition = partitionOf(message.key);
      const log = this.#topic(topic)[partition];
      let pending = written.get(log);
      if (pending === undefined) written.set(log, pending = { lines: [], stored: [] });
      const offset = log.base + log.messages.length + pending.stored.length;
      const stored: StoredMessage = {
        offset: String(offset),
        key: message.key,
        value: message.value,
        headers: { ...message.headers },
        timestamp: String(Date.now()),
      };
      const line: LogLine = {
        o: offset,
        k: stored.key,
        v: stored.value,
        h: stored.headers as Record<string, string>,
        t: stored.timestamp,
      };
      pending.lines.push(JSON.stringify(line) + "\n");
      pending.stored.push(stored);
      return { topic, partition, offset: String(offset) };
    });
    for (const [log, { lines, stored }] of written) {
      let bytes = encoder.encode(lines.join(""));
      while (bytes.length > 0) bytes = bytes.subarray(log.file.writeSync(bytes));
      log.messages.push(...stored);
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
    return deliveries;
  }

  subscribe(group: string, topic: string, onBatch: BatchHandler): Promise<Subscription> {
    // A new group starts at the earliest message kept, and from now on holds back trimming.
    const positions = (this.#offsets[group] ??= {})[topic] ??= {};
    this.#topic(topic).forEach((log, p) => positions[p] ??= log.base);
    const subscription = new EmbeddedSubscription(this, group, topic, onBatch);
    this.#subscriptions.add(subscription);
    subscription.start();
    return Promise.resolve(subscription);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    await this.#batcher.close();
    await this.#offsetWrite;
    for (const partitions of this.#topics.values()) {
      for (const log of partitions) log.file.close();
    }
    this.#topics.clear();
  }

  /** The partitions of `topic`, created on first use like Kafka's auto-created topics. */
  #topic(topic: string): PartitionLog[] {
    let partitions = this.#topics.get(topic);
    if (partitions === undefined) {
      const folder = this.#folder(topic);
      Deno.mkdirSync(folder, { recursive: true });
      partitions = Array.from({ length: PARTITIONS }, (_, p) => ({
        base: 0,
        messages: [],
        file: Deno.openSync(`${folder}/${p}.log`, { append: true, create: true }),
        waiters: new Set<() => void>(),
      }));
      this.#topics.set(topic, partitions);
    }
    return partitions;
  }

  #folder(topic: string): string {
    return `${this.#dir}/topics/${encodeURIComponent(topic)}`;
  }

  async #load(topic: string): Promise<void> {
    const folder = this.#folder(topic);
    const partitions: PartitionLog[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const path = `${folder}/${p}.log`;
      let text = "";
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      const lines: LogLine[] = [];
      for (const raw of text.split("\n")) {
        if (raw === "") continue;
        try {
          lines.push(JSON.parse(raw));
        } catch {
          // a line cut short by a crash mid-write was never acknowledged
        }
      }
      const keepFrom = this.#committedByAll(topic, p) ?? 0;
      const kept = lines.filter((line) => line.o >= keepFrom);
      const next = lines.length > 0 ? lines[lines.length - 1].o + 1 : keepFrom;
      await Deno.writeTextFile(
        `${path}.tmp`,
        kept.map((line) => JSON.stringify(line) + "\n").join(""),
      );
      await Deno.rename(`${path}.tmp`, path);
      partitions.push({
        base: kept.length > 0 ? kept[0].o : next,
        messages: kept.map((line) => ({
          offset: String(line.o),
          key: line.k,
          value: line.v,
          headers: line.h,
          timestamp: line.t,
        })),
        file: await Deno.open(path, { append: true }),
        waiters: new Set(),
      });
    }
    this.#topics.set(topic, partitions);
  }

  /** The lowest offset every group that consumed `topic` still needs, if any group did. */
  #committedByAll(topic: string, partition: number): number | undefined {
    const positions = Object.values(this.#offsets)
      .map((topics) => topics[topic]?.[partition])
      .filter((offset): offset is number => offset !== undefined);
    return positions.length > 0 ? Math.min(...positions) : undefined;
  }

  /** @internal Next offset `group` has not committed in the partition. */
  position(group: string, topic: string, partition: number): number {
    const log = this.#topic(topic)[partition];
    return Math.max(this.#offsets[group]?.[topic]?.[partition] ?? log.base, log.base);
  }

  /** @internal Up to {@linkcode MAX_BATCH} messages from `offset`, or none yet. */
  read(topic: string, partition: number, offset: number): StoredMessage[] {
    const log = this.#topic(topic)[partition];
    const start = offset - log.base;
    return log.messages.slice(start, start + MAX_BATCH);
  }

  /** @internal The offset the next message of the partition gets. */
  highWatermark(topic: string, partition: number): number {
    const log = this.#topic(topic)[partition];
    return log.base + log.messages.length;
  }

  /** @internal Resolves on the next append to the partition, or when woken. */
  waitForMessages(topic: string, partition: number): { wait: Promise<void>; wake: () => void } {
    const log = this.#topic(topic)[partition];
    let wake = () => {};
    const wait = new Promise<void>((resolve) => wake = resolve);
    log.waiters.add(wake);
    return { wait, wake };
  }

  /** @internal Records `group`'s next offset and drops messages all groups are past. */
  commit(group: string, topic: string, partition: number, next: number): Promise<void> {
    const topics = this.#offsets[group] ??= {};
    (topics[topic] ??= {})[partition] = next;
    const log = this.#topic(topic)[partition];
    const droppable = (this.#committedByAll(topic, partition) ?? log.base) - log.base;
    if (droppable > 0) {
      log.messages = log.messages.slice(droppable);
      log.base += droppable;
    }
    const snapshot = JSON.stringify(this.#offsets);
    const path = `${this.#dir}/offsets.json`;
    this.#offsetWrite = this.#offsetWrite.then(async () => {
      await Deno.writeTextFile(`${path}.tmp`, snapshot);
      await Deno.rename(`${path}.tmp`, path);
    });
    return this.#offsetWrite;
  }
}

/** A group's consumer of one topic: a delivery loop per partition. */
class EmbeddedSubscription implements Subscription {
  #running = true;
  #loops: Promise<void>[] = [];
  readonly #wakers = new Set<() => void>();

  constructor(
    private readonly bus: EmbeddedBus,
    private readonly group: string,
    private readonly topic: string,
    private readonly onBatch: BatchHandler,
  ) {}

  start(): void {
    this.#loops = Array.from({ length: PARTITIONS }, (_, p) => this.#loop(p));
  }

  ready(): boolean {
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const wake of this.#wakers) wake();
    await Promise.all(this.#loops);
  }

  async #loop(partition: number): Promise<void> {
    const { bus, group, topic } = this;
    while (this.#running) {
      const position = bus.position(group, topic, partition);
      const messages = bus.read(topic, partition, position);
      if (messages.length === 0) {
        const { wait, wake } = bus.waitForMessages(topic, partition);
        this.#wakers.add(wake);
        await wait;
        this.#wakers.delete(wake);
        continue;
      }
      let resolved: number | undefined;
      try {
        await this.onBatch({
          topic,
          partition,
          highWatermark: String(bus.highWatermark(topic, partition)),
          messages,
        }, {
          resolveOffset: (offset) => resolved = Number(offset) + 1,
          heartbeat: () => Promise.resolve(),
          isRunning: () => this.#running,
          isStale: () => false,
        });
      } catch {
        // Like a restarted Kafka consumer: pause, then redeliver from the last commit.
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      if (resolved !== undefined) await bus.commit(group, topic, partition, resolved);
      // A handler that made no progress gets the same messages again, but not in a tight loop.
      else if (this.#running) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
