/**
 * A bounded export queue for spans and log records. Unlike the SDK's batch processors it counts
 * what it drops (queue full, export failed), so an unreachable collector costs bounded memory and
 * shows up in the `otel_sdk_*` metrics instead of disappearing.
 *
 * @example
 * ```ts
 * import { BoundedBatcher } from "./batcher.ts";
 * const sent: number[][] = [];
 * const batcher = new BoundedBatcher<number>({
 *   exportBatch: (items) => { sent.push(items); return Promise.resolve(true); },
 *   onDrop: () => {},
 * });
 * batcher.add(1);
 * await batcher.flush();
 * console.log(sent); // [[1]]
 * ```
 * @module
 */
import { withDeadline } from "../deadline.ts";

/**
 * Why items were dropped, spelled as the `error.type` of the OpenTelemetry SDK metrics:
 * the queue was full, the export failed, the batcher was already shut down when the item came,
 * or shutdown gave up on items still queued at its deadline.
 */
export type DropReason = "queue_full" | "export_failed" | "already_shutdown" | "shutdown_timeout";

/** Options of a {@linkcode BoundedBatcher}. */
export interface BatcherOptions<T> {
  /** Sends one batch; resolves true when the receiver accepted it. */
  exportBatch(items: T[]): Promise<boolean>;
  /** Called with the number of items dropped and why. */
  onDrop(count: number, reason: DropReason): void;
  maxQueueSize?: number;
  maxBatchSize?: number;
  delayMs?: number;
}

/** How long items that arrived during an export wait for company before a partial batch goes. */
const LINGER_MS = 50;

/** Batchers that export fine but whose queue is more than half full: items come faster than they go. */
const behind = new Set<BoundedBatcher<unknown>>();

/**
 * True while some batcher's exports succeed but its queue is more than half full. Work that can
 * wait (a consumer's next message) then gives the exports the event loop before the queue
 * overflows and drops; a receiver that fails or does not answer never holds anything up.
 */
export function exportsBehind(): boolean {
  return behind.size > 0;
}

/** Collects items and exports them in batches, one export at a time, within a bounded queue. */
export class BoundedBatcher<T> {
  readonly #options: Required<BatcherOptions<T>>;
  #queue: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #exporting: Promise<void> | undefined;
  #closed = false;
  /** Whether the last export was accepted (no back-pressure toward a failing receiver). */
  #healthy = true;

  constructor(options: BatcherOptions<T>) {
    this.#options = { maxQueueSize: 2048, maxBatchSize: 512, delayMs: 1000, ...options };
  }

  /** Queues an item, dropping it when the queue is full. */
  add(item: T): void {
    if (this.#closed) return this.#options.onDrop(1, "already_shutdown");
    if (this.#queue.length >= this.#options.maxQueueSize) {
      return this.#options.onDrop(1, "queue_full");
    }
    this.#queue.push(item);
    if (this.#healthy && this.#queue.length * 2 > this.#options.maxQueueSize) behind.add(this);
    if (this.#queue.length >= this.#options.maxBatchSize) this.#kick(false);
    else if (this.#timer === undefined) this.#schedule(this.#options.delayMs);
  }

  /** Exports everything queued so far. */
  async flush(): Promise<void> {
    while (this.#exporting !== undefined || this.#queue.length > 0) {
      this.#kick(true);
      await this.#exporting;
    }
  }

  /**
   * Refuses further items and flushes for at most `deadlineMs`; whatever is still queued then
   * (the receiver is down, say) is dropped and counted instead of holding up the exit.
   */
  async shutdown(deadlineMs = 3000): Promise<void> {
    this.#closed = true;
    behind.delete(this);
    clearTimeout(this.#timer);
    await withDeadline(this.flush(), deadlineMs).catch(() => {});
    const left = this.#queue.splice(0);
    if (left.length > 0) this.#options.onDrop(left.length, "shutdown_timeout");
  }

  /** Exports partial batches after `ms` unless a full one goes first. */
  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick(true);
    }, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Starts exporting full batches, or (`all`) everything queued now, unless an export runs. */
  #kick(all: boolean): void {
    if (this.#exporting !== undefined || this.#queue.length === 0) return;
    this.#exporting = this.#drain(all).finally(() => this.#exporting = undefined);
  }

  async #drain(all: boolean): Promise<void> {
    const { maxBatchSize } = this.#options;
    let owed = all ? this.#queue.length : 0;
    while (this.#queue.length >= maxBatchSize || owed > 0) {
      const batch = this.#queue.splice(0, maxBatchSize);
      owed -= batch.length;
      let ok = false;
      try {
        ok = await this.#options.exportBatch(batch);
      } catch {
        ok = false;
      }
      if (!ok) this.#options.onDrop(batch.length, "export_failed");
      this.#healthy = ok;
      if (!ok || this.#queue.length * 2 <= this.#options.maxQueueSize) behind.delete(this);
    }
    // What arrived during the exports waits a moment for more instead of going out in a small
    // batch at once: a steady stream is then exported in full batches, not a request per handful.
    if (this.#queue.length > 0 && !this.#closed) {
      this.#schedule(Math.min(this.#options.delayMs, LINGER_MS));
    }
  }
}
