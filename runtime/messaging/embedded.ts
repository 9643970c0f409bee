/**
 * The embedded event bus: Kafka's delivery model in-process. Topics have partitions chosen by
 * key, each an append-only log file; consumer groups keep their own committed offsets in a file;
 * delivery is at least once (what was not committed is delivered again, also after a crash).
 * Messages are written to their file before `send` resolves, so a killed process loses nothing
 * acknowledged; whether they have also reached the disk (a crashed machine) is the `fsync` policy
 * (`EMBEDDED_FSYNC`, see file_sync.ts). Sends of one turn of the event loop (or of a configured
 * linger) are appended with one write per partition, and become visible to consumers once written.
 *
 * Retention, like Kafka's defaults: a message goes once every live group has committed it; a
 * group is live while it consumes, and for `groupRetentionMs` (7 days) after it stopped, then it
 * is forgotten; messages no live group needs (a dead-letter topic nobody reads) are kept for
 * `retentionMs` (7 days). Partition files are rewritten without what was dropped once that is
 * most of them.
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
import { errorType } from "../errors.ts";
import { FileSync, type FsyncPolicy } from "../file_sync.ts";
import type { Delivery, Logger } from "../function.ts";
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
  file: Deno.FsFile;
  /** Offset of the file's first line: lines before `base` are dropped, still on disk. */
  fileBase: number;
  readonly path: string;
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

/** offsets.json: the offsets, and when each group last consumed or committed (Unix ms). */
interface OffsetsFile {
  v: 2;
  offsets: Offsets;
  seen: Record<string, number>;
}

const DAY_MS = 24 * 3600 * 1000;

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
  /** When appends reach the disk; `interval` by default. */
  readonly fsync?: FsyncPolicy;
  /** How long messages no live group needs are kept; 7 days by default. */
  readonly retentionMs?: number;
  /** How long a group that stopped consuming keeps its offsets; 7 days by default. */
  readonly groupRetentionMs?: number;
  /** Dropped lines a partition file may hold before it is rewritten; 10 000 by default. */
  readonly compactAfter?: number;
  /** The clock (Unix ms), for tests. */
  readonly now?: () => number;
  /** Where the bus says that its offsets cannot be written, and when they can again. */
  readonly log?: Pick<Logger, "error" | "info">;
}

interface Outgoing {
  readonly topic: string;
  readonly message: BusMessage;
}

/** An in-process bus whose logs and offsets live under one folder. */
export class EmbeddedBus implements Bus {
  /** In-process: there is no broker to name. */
  readonly server = undefined;
  readonly clientId = "otel-functions";
  readonly #dir: string;
  readonly #topics = new Map<string, PartitionLog[]>();
  readonly #offsets: Offsets;
  readonly #seen: Record<string, number>;
  /** Running subscriptions per group. */
  readonly #active = new Map<string, number>();
  readonly #subscriptions = new Set<EmbeddedSubscription>();
  readonly #batcher: LingerBatcher<Outgoing, Delivery>;
  readonly #sync: FileSync;
  readonly #now: () => number;
  readonly #retentionMs: number;
  readonly #groupRetentionMs: number;
  readonly #compactAfter: number;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #offsetWrite: Promise<void> = Promise.resolve();
  #offsetError: unknown;
  readonly #log: EmbeddedBusOptions["log"];

  private constructor(dir: string, stored: OffsetsFile, options: EmbeddedBusOptions) {
    this.#dir = dir;
    this.#offsets = stored.offsets;
    this.#seen = stored.seen;
    this.#sync = new FileSync(options.fsync ?? "interval");
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
    this.#retentionMs = options.retentionMs ?? 7 * DAY_MS;
    this.#groupRetentionMs = options.groupRetentionMs ?? 7 * DAY_MS;
    this.#compactAfter = options.compactAfter ?? 10_000;
    this.#batcher = new LingerBatcher(
      options.batch ?? { ...DEFAULT_BATCH_LIMITS, lingerMs: 0 },
      (items) => this.#append(items),
    );
    this.#sweeper = setInterval(() => this.sweep(), 60_000);
    Deno.unrefTimer(this.#sweeper);
  }

  /** Opens the bus kept in `dir`, dropping what retention lets go. */
  static async open(dir: string, options: EmbeddedBusOptions = {}): Promise<EmbeddedBus> {
    await Deno.mkdir(`${dir}/topics`, { recursive: true });
    let stored: OffsetsFile = { v: 2, offsets: {}, seen: {} };
    try {
      const parsed = JSON.parse(await Deno.readTextFile(`${dir}/offsets.json`));
      // Before retention the file held the offsets alone; their groups count as seen now.
      stored = parsed?.v === 2 ? parsed : { v: 2, offsets: parsed, seen: {} };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const now = (options.now ?? Date.now)();
    for (const group of Object.keys(stored.offsets)) stored.seen[group] ??= now;
    const bus = new EmbeddedBus(dir, stored, options);
    for await (const entry of Deno.readDir(`${dir}/topics`)) {
      if (entry.isDirectory) await bus.#load(decodeURIComponent(entry.name));
    }
    // Every file is rewritten at open: without what retention dropped, and without a line a
    // crash cut short, which would otherwise swallow the next append.
    bus.sweep(true);
    return bus;
  }

  async send(topic: string, message: BusMessage): Promise<BusDelivery> {
    const { result, batch } = await this.#batcher.add({ topic, message }, messageBytes(message));
    return { ...result, batch };
  }

  /** Appends a batch: one write per partition, then the messages become visible. */
  async #append(items: Outgoing[]): Promise<Delivery[]> {
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
        timestamp: String(this.#now()),
      };
      pending.lines.push(JSON.stringify(toLine(stored)) + "\n");
      pending.stored.push(stored);
      return { topic, partition, offset: String(offset) };
    });
    const files: Deno.FsFile[] = [];
    for (const [log, { lines, stored }] of written) {
      let bytes = encoder.encode(lines.join(""));
      while (bytes.length > 0) bytes = bytes.subarray(log.file.writeSync(bytes));
      files.push(log.file);
      log.messages.push(...stored);
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
    await Promise.all(files.map((file) => this.#sync.wrote(file)));
    return deliveries;
  }

  subscribe(group: string, topic: string, onBatch: BatchHandler): Promise<Subscription> {
    // A new group starts at the earliest message kept, and from now on holds back trimming.
    const positions = (this.#offsets[group] ??= {})[topic] ??= {};
    this.#topic(topic).forEach((log, p) => positions[p] ??= log.base);
    this.#active.set(group, (this.#active.get(group) ?? 0) + 1);
    this.#seen[group] = this.#now();
    const subscription = new EmbeddedSubscription(this, group, topic, onBatch, () => {
      this.#active.set(group, (this.#active.get(group) ?? 1) - 1);
      this.#seen[group] = this.#now();
      this.#subscriptions.delete(subscription);
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return Promise.resolve(subscription);
  }

  /**
   * Fails with an `OffsetsNotWritableError` while offsets cannot be written (consumers wait
   * meanwhile; readiness names the error, the log says why).
   */
  ping(): Promise<void> {
    if (this.#offsetError === undefined) return Promise.resolve();
    const error = new Error(
      `the embedded bus cannot write its offsets (${errorType(this.#offsetError)})`,
      { cause: this.#offsetError },
    );
    error.name = "OffsetsNotWritableError";
    return Promise.reject(error);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    await this.#batcher.close();
    await this.#offsetWrite.catch(() => {});
    await this.#sync.close();
    for (const partitions of this.#topics.values()) {
      for (const log of partitions) log.file.close();
    }
    this.#topics.clear();
  }

  /**
   * Applies retention: forgets groups that stopped longer ago than the group retention, drops
   * what no live group needs (or, without live groups, what is older than the retention), and
   * rewrites files that are mostly dropped lines (every file, with `compactAll`). Runs every
   * minute and at open.
   */
  sweep(compactAll = false): void {
    const now = this.#now();
    let forgot = false;
    for (const group of Object.keys(this.#offsets)) {
      if (!this.#live(group, now)) {
        delete this.#offsets[group];
        delete this.#seen[group];
        forgot = true;
      }
    }
    for (const [topic, partitions] of this.#topics) {
      partitions.forEach((log, p) => {
        this.#trim(topic, p, now);
        if (compactAll) this.#compact(log);
      });
    }
    if (forgot) this.#writeOffsets().catch(() => {});
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
        fileBase: 0,
        path: `${folder}/${p}.log`,
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
      const next = lines.length > 0 ? lines[lines.length - 1].o + 1 : 0;
      const base = lines.length > 0 ? lines[0].o : next;
      partitions.push({
        base,
        messages: lines.map(fromLine),
        file: await Deno.open(path, { append: true, create: true }),
        fileBase: base,
        path,
        waiters: new Set(),
      });
    }
    this.#topics.set(topic, partitions);
  }

  /** Whether `group` still holds messages back: it consumes, or stopped only recently. */
  #live(group: string, now: number): boolean {
    return (this.#active.get(group) ?? 0) > 0 ||
      now - (this.#seen[group] ?? now) < this.#groupRetentionMs;
  }

  /** The lowest offset every live group that consumed `topic` still needs, if any did. */
  #committedByAll(topic: string, partition: number, now: number): number | undefined {
    const positions = Object.entries(this.#offsets)
      .filter(([group]) => this.#live(group, now))
      .map(([, topics]) => topics[topic]?.[partition])
      .filter((offset): offset is number => offset !== undefined);
    return positions.length > 0 ? Math.min(...positions) : undefined;
  }

  /** Drops what retention lets go from the partition, and compacts its file when worth it. */
  #trim(topic: string, partition: number, now: number): void {
    const log = this.#topic(topic)[partition];
    let keepFrom = this.#committedByAll(topic, partition, now);
    if (keepFrom === undefined) {
      const cutoff = now - this.#retentionMs;
      const young = log.messages.findIndex((message) => Number(message.timestamp) >= cutoff);
      keepFrom = young < 0 ? log.base + log.messages.length : log.base + young;
    }
    const droppable = keepFrom - log.base;
    if (droppable > 0) {
      log.messages = log.messages.slice(droppable);
      log.base += droppable;
    }
    const dead = log.base - log.fileBase;
    if (dead >= this.#compactAfter && dead >= log.messages.length) this.#compact(log);
  }

  /** Rewrites the partition's file as its kept messages: aside, synced, then renamed over it. */
  #compact(log: PartitionLog): void {
    const tmp = Deno.openSync(`${log.path}.tmp`, { write: true, create: true, truncate: true });
    let bytes = encoder.encode(log.messages.map((m) => JSON.stringify(toLine(m)) + "\n").join(""));
    while (bytes.length > 0) bytes = bytes.subarray(tmp.writeSync(bytes));
    if (this.#sync.policy !== "never") tmp.syncDataSync();
    tmp.close();
    Deno.renameSync(`${log.path}.tmp`, log.path);
    this.#sync.retire(log.file);
    log.file = Deno.openSync(log.path, { append: true });
    log.fileBase = log.base;
  }

  /** Writes the offsets aside and renames them into place; synced first under `always`. */
  #writeOffsets(): Promise<void> {
    const snapshot = JSON.stringify({ v: 2, offsets: this.#offsets, seen: this.#seen });
    const path = `${this.#dir}/offsets.json`;
    const write = async () => {
      const file = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true });
      try {
        let bytes = encoder.encode(snapshot);
        while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
        if (this.#sync.policy === "always") await file.syncData();
      } finally {
        file.close();
      }
      await Deno.rename(`${path}.tmp`, path);
    };
    // One failed write must not stop the ones after it.
    this.#offsetWrite = this.#offsetWrite.catch(() => {}).then(write).then(
      () => {
        if (this.#offsetError !== undefined) {
          this.#log?.info("embedded bus writes its offsets again", { path });
        }
        this.#offsetError = undefined;
      },
      (error) => {
        if (this.#offsetError === undefined) {
          this.#log?.error(
            "embedded bus cannot write its offsets; its consumers wait until it can",
            { path, error_type: errorType(error), error },
          );
        }
        this.#offsetError = error;
        throw error;
      },
    );
    return this.#offsetWrite;
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

  /**
   * @internal Records `group`'s next offset, drops what no group needs any more, and writes the
   * offsets; rejects when they could not be written (the caller retries).
   */
  commit(group: string, topic: string, partition: number, next: number): Promise<void> {
    const topics = this.#offsets[group] ??= {};
    (topics[topic] ??= {})[partition] = next;
    const now = this.#now();
    this.#seen[group] = now;
    this.#trim(topic, partition, now);
    return this.#writeOffsets();
  }
}

function toLine(message: StoredMessage): LogLine {
  return {
    o: Number(message.offset),
    k: message.key,
    v: message.value,
    h: message.headers as Record<string, string>,
    t: message.timestamp,
  };
}

function fromLine(line: LogLine): StoredMessage {
  return { offset: String(line.o), key: line.k, value: line.v, headers: line.h, timestamp: line.t };
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
    private readonly onStopped: () => void,
  ) {}

  start(): void {
    this.#loops = Array.from({ length: PARTITIONS }, (_, p) => this.#loop(p));
  }

  ready(): boolean {
    return this.#running;
  }

  async stop(): Promise<void> {
    if (!this.#running) return await Promise.all(this.#loops).then(() => {});
    this.#running = false;
    for (const wake of this.#wakers) wake();
    await Promise.all(this.#loops);
    this.onStopped();
  }

  /** Delivers the partition's messages until stopped; nothing that fails ends it. */
  async #loop(partition: number): Promise<void> {
    while (this.#running) {
      try {
        await this.#deliver(partition);
      } catch {
        // A fault of the bus itself: back off and carry on from the last commit.
        await sleep(1000);
      }
    }
  }

  async #deliver(partition: number): Promise<void> {
    const { bus, group, topic } = this;
    const position = bus.position(group, topic, partition);
    const messages = bus.read(topic, partition, position);
    if (messages.length === 0) {
      const { wait, wake } = bus.waitForMessages(topic, partition);
      this.#wakers.add(wake);
      await wait;
      this.#wakers.delete(wake);
      return;
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
        highWatermark: () => String(bus.highWatermark(topic, partition)),
      });
    } catch {
      // Like a restarted Kafka consumer: pause, then redeliver from the last commit.
      await sleep(1000);
    }
    if (resolved === undefined) {
      // A handler that made no progress gets the same messages again, but not in a tight loop.
      if (this.#running) await sleep(100);
      return;
    }
    // Offsets that cannot be written hold the partition (the bus's ping says why) until they can.
    while (true) {
      try {
        return await bus.commit(group, topic, partition, resolved);
      } catch {
        if (!this.#running) return;
        await sleep(1000);
      }
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
