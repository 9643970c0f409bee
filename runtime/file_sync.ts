/**
 * When the embedded defaults' appends reach the disk (`EMBEDDED_FSYNC`): `always` syncs a file's
 * data before the writes of a turn are acknowledged (one `fdatasync` per file per turn, shared by
 * every write in it); `interval` syncs dirty files every second and at close, so a crash of the
 * machine loses at most the last second; `never` leaves it to the operating system. A killed
 * process loses nothing acknowledged under any policy: every write is in the kernel before it is
 * acknowledged.
 *
 * @example
 * ```ts
 * import { FileSync } from "./file_sync.ts";
 * const sync = new FileSync("always");
 * const file = await Deno.open(await Deno.makeTempFile(), { append: true });
 * file.writeSync(new TextEncoder().encode("line\n"));
 * await sync.wrote(file); // on disk now
 * sync.retire(file);
 * await sync.close();
 * ```
 * @module
 */

/** `EMBEDDED_FSYNC` values. */
export const FSYNC_POLICIES = ["always", "interval", "never"] as const;
/** When appended data is synced to disk. */
export type FsyncPolicy = typeof FSYNC_POLICIES[number];
/** How often the `interval` policy syncs dirty files. */
export const FSYNC_INTERVAL_MS = 1000;

/** A file as far as syncing goes. */
export interface Syncable {
  syncData(): Promise<void>;
  close(): void;
}

/** Syncs written files by a policy. */
export class FileSync {
  readonly #dirty = new Set<Syncable>();
  readonly #pending = new Map<Syncable, Promise<void>>();
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly policy: FsyncPolicy, intervalMs = FSYNC_INTERVAL_MS) {
    if (policy === "interval") {
      this.#timer = setInterval(() => this.flush().catch(() => {}), intervalMs);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Resolves when what was written to `file` so far is as durable as the policy promises. */
  wrote(file: Syncable): Promise<void> {
    if (this.policy === "never") return Promise.resolve();
    if (this.policy === "interval") {
      this.#dirty.add(file);
      return Promise.resolve();
    }
    // Writes of the same turn share one sync, started after the turn.
    let pending = this.#pending.get(file);
    if (pending === undefined) {
      pending = new Promise<void>((resolve) => setTimeout(resolve, 0))
        .then(() => {
          this.#pending.delete(file);
          return file.syncData();
        });
      this.#pending.set(file, pending);
    }
    return pending;
  }

  /** Syncs every file written since the last sync. */
  async flush(): Promise<void> {
    const files = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(files.map((file) => file.syncData()));
  }

  /**
   * Closes `file`, once a sync of it that is under way has finished; what it held must already
   * be durable elsewhere (a compacted copy synced before it replaced the file).
   */
  retire(file: Syncable): void {
    this.#dirty.delete(file);
    const pending = this.#pending.get(file);
    if (pending === undefined) file.close();
    else pending.catch(() => {}).finally(() => file.close());
  }

  /** Syncs what is dirty and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#pending.values());
    await this.flush();
  }
}
