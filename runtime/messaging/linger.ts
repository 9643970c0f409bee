/**
 * Batching for producers, like librdkafka's and the Java client's `linger.ms`: sends that arrive
 * within the linger go out together as one request, bounded by a message count and a byte size,
 * with a bounded number of requests in flight. Every caller gets its own result once the request
 * that carried its message was acknowledged, or the request's error if it failed.
 *
 * @example
 * ```ts
 * import { LingerBatcher } from "./linger.ts";
 * const batcher = new LingerBatcher<string, number>(
 *   { lingerMs: 5, maxMessages: 100, maxBytes: 65536 },
 *   (items) => Promise.resolve(items.map((_, index) => index)),
 * );
 * const [a, b] = await Promise.all([batcher.add("a", 1), batcher.add("b", 1)]);
 * console.log(a.result, b.result, a.batch.messages); // 0 1 2
 * await batcher.close();
 * ```
 * @module
 */

/** How a producer batches. */
export interface BatchLimits {
  /** Longest a message waits for company before its batch goes (0: only what arrives together). */
  readonly lingerMs: number;
  /** Most messages in one request. */
  readonly maxMessages: number;
  /** Most bytes (keys, values, headers) in one request; a larger single message goes alone. */
  readonly maxBytes: number;
  /** Requests in flight at once; more waits (and batches up) until one is answered. */
  readonly maxInFlight?: number;
}

/** The defaults: librdkafka's 5 ms linger, Kafka's five requests in flight. */
export const DEFAULT_BATCH_LIMITS: Required<BatchLimits> = {
  lingerMs: 5,
  maxMessages: 1000,
  maxBytes: 512 * 1024,
  maxInFlight: 5,
};

/** The request a message went out in. */
export interface BatchInfo {
  /** Messages in the request. */
  readonly messages: number;
  /** `performance.now()` when the message was added. */
  readonly queuedAt: number;
  /** `performance.now()` when the request left. */
  readonly sentAt: number;
}

/** What a caller of {@linkcode LingerBatcher.add} gets. */
export interface Batched<R> {
  readonly result: R;
  readonly batch: BatchInfo;
}

interface Entry<T, R> {
  readonly item: T;
  readonly bytes: number;
  readonly queuedAt: number;
  readonly resolve: (value: Batched<R>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends one batch; resolves with one result per item, in order, once the receiver acknowledged
 * all of them, or rejects (then every item of the batch fails with that error).
 */
export type SendBatch<T, R> = (items: T[]) => Promise<R[]>;

/** Collects items and sends them in batches. */
export class LingerBatcher<T, R> {
  readonly #limits: Required<BatchLimits>;
  readonly #send: SendBatch<T, R>;
  #queue: Entry<T, R>[] = [];
  #queuedBytes = 0;
  #inFlight = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The message whose linger the timer measures. */
  #timerFor: Entry<T, R> | undefined;
  #closed = false;

  constructor(limits: BatchLimits, send: SendBatch<T, R>) {
    this.#limits = { ...DEFAULT_BATCH_LIMITS, ...limits };
    this.#send = send;
  }

  /** Queues `item` (of about `bytes` bytes); resolves when its batch was acknowledged. */
  add(item: T, bytes: number): Promise<Batched<R>> {
    if (this.#closed) return Promise.reject(new Error("the producer is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, bytes, queuedAt: performance.now(), resolve, reject });
      this.#queuedBytes += bytes;
      this.#pump("full");
    });
  }

  /** Sends everything queued now and waits until every request was answered. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight.size > 0) {
      this.#pump("all");
      if (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    }
  }

  /** Refuses further items and flushes. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#timer);
  }

  /** Whether a full batch is waiting. */
  #full(): boolean {
    return this.#queue.length >= this.#limits.maxMessages ||
      this.#queuedBytes >= this.#limits.maxBytes;
  }

  /**
   * Sends full batches, batches whose linger is over (`due`), or everything (`all`) while requests
   * may go out; arms the linger timer for the rest. A new message only ever sends a full batch, so
   * a linger of 0 still collects what arrives in the same turn of the event loop.
   */
  #pump(what: "full" | "due" | "all"): void {
    const { lingerMs, maxInFlight } = this.#limits;
    while (this.#queue.length > 0 && this.#inFlight.size < maxInFlight) {
      const due = what === "all" ||
        (what === "due" && performance.now() - this.#queue[0].queuedAt >= lingerMs);
      if (!due && !this.#full()) break;
      this.#dispatch(this.#take());
    }
    const oldest = this.#inFlight.size < maxInFlight ? this.#queue[0] : undefined;
    if (oldest === this.#timerFor) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerFor = oldest;
    if (oldest !== undefined) {
      const left = lingerMs - (performance.now() - oldest.queuedAt);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timerFor = undefined;
        this.#pump("all");
      }, Math.max(0, left));
    }
  }

  /** The oldest messages that fit in one request (at least one). */
  #take(): Entry<T, R>[] {
    const { maxMessages, maxBytes } = this.#limits;
    let count = 0;
    let bytes = 0;
    while (
      count < this.#queue.length && count < maxMessages &&
      (count === 0 || bytes + this.#queue[count].bytes <= maxBytes)
    ) {
      bytes += this.#queue[count].bytes;
      count++;
    }
    this.#queuedBytes -= bytes;
    return this.#queue.splice(0, count);
  }

  #dispatch(entries: Entry<T, R>[]): void {
    const sentAt = performance.now();
    const request = (async () => {
      try {
        const results = await this.#send(entries.map((entry) => entry.item));
        if (results.length !== entries.length) {
          throw new Error(`the batch of ${entries.length} got ${results.length} results`);
        }
        entries.forEach((entry, index) =>
          entry.resolve({
            result: results[index],
            batch: { messages: entries.length, queuedAt: entry.queuedAt, sentAt },
          })
        );
      } catch (error) {
        for (const entry of entries) entry.reject(error);
      }
    })();
    this.#inFlight.add(request);
    request.then(() => {
      this.#inFlight.delete(request);
      // What queued up meanwhile goes out now if it is due (or full), else when it is.
      this.#pump("due");
    });
  }
}

/** Bytes of `text` in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 2; // the pair's two UTF-16 units are four bytes
      i++;
    } else bytes += 2; // three bytes (a lone surrogate becomes U+FFFD, also three)
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
