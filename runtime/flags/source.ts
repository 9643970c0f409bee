/**
 * The flag file on disk, kept loaded: read at start, re-read when it changes (polled, so edits
 * through an editor's rename, a container bind mount or `PUT /api/flags/:name` are all seen within
 * a poll), and written atomically (a temporary file renamed over it) so the file and the API always
 * agree. A broken or vanished file keeps the last good flags, and the log says why.
 *
 * Polling rather than `Deno.watchFs`: inotify misses edits made through some bind mounts, and
 * reading a few kilobytes four times a second costs nothing measurable.
 *
 * @example
 * ```ts
 * import { FlagSource } from "./source.ts";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, JSON.stringify({
 *   flags: { app1SlowMs: { state: "ENABLED", variants: { off: 0, "1s": 1000 }, defaultVariant: "off" } },
 * }));
 * const source = await FlagSource.open(file, { log: console });
 * await source.setVariant("app1SlowMs", "1s");
 * console.log(source.flags()[0].value); // 1000
 * source.close();
 * ```
 * @module
 */
import { MemoryStorage, type Storage } from "@openfeature/flagd-core";
import { basename, dirname, join, resolve } from "node:path";
import { type FlagView, parseFlagFile, withVariant } from "./definitions.ts";

/** Where the source logs (the host's logger, or `console`). */
export interface SourceLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode FlagSource.open}. */
export interface FlagSourceOptions {
  readonly log: SourceLog;
  /** How often the file is checked for changes; 250 ms by default. */
  readonly pollMs?: number;
}

/** A refused change, with the HTTP status the API answers with. */
export class FlagChangeError extends Error {
  constructor(readonly status: 400 | 404 | 409 | 503, message: string) {
    super(message);
    this.name = "FlagChangeError";
  }
}

/** What the source knows about its file. */
export interface SourceStatus {
  /** The file, as an absolute path. */
  readonly file: string;
  /** When the flags in force were read (Unix ms); null when no good file was ever read. */
  readonly loadedAt: number | null;
  /** Why the file on disk is not in force, when it is not. */
  readonly error: string | null;
}

/**
 * Replaces `file` with `text` atomically: a temporary file beside it (so the rename stays on one
 * file system) renamed over it, so a reader never sees half a file. The temporary file is removed
 * if anything fails.
 */
export async function replaceFile(file: string, text: string): Promise<void> {
  const temporary = join(
    dirname(file),
    `.${basename(file)}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, file);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** A flag file kept loaded into a flagd-core store. */
export class FlagSource {
  /** The store flagd-core evaluates from; replaced only by a valid file. */
  readonly storage: Storage;
  readonly #file: string;
  readonly #log: SourceLog;
  readonly #listeners = new Set<(changed: string[]) => void>();
  #flags: readonly FlagView[] = [];
  #lastText: string | undefined;
  #loadedAt: number | null = null;
  #error: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #busy = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(file: string, log: SourceLog) {
    this.#file = file;
    this.#log = log;
    const quiet = { error() {}, warn() {}, info() {}, debug() {} };
    this.storage = new MemoryStorage(quiet);
  }

  /** Loads `file` (relative paths from the working directory) and starts watching it. */
  static async open(file: string, options: FlagSourceOptions): Promise<FlagSource> {
    const source = new FlagSource(resolve(file), options.log);
    await source.reload();
    const timer = setInterval(() => {
      if (!source.#busy) source.reload().catch(() => {});
    }, options.pollMs ?? 250);
    Deno.unrefTimer(timer);
    source.#timer = timer;
    return source;
  }

  /** The flags in force, in the file's order. */
  flags(): readonly FlagView[] {
    return this.#flags;
  }

  /** The file, when it was read, and why it is not in force if it is not. */
  status(): SourceStatus {
    return { file: this.#file, loadedAt: this.#loadedAt, error: this.#error };
  }

  /** Calls `listener` with the names of the flags whose state, variant or value changed. */
  onChange(listener: (changed: string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the file now; the poll calls this. */
  reload(): Promise<void> {
    return this.#serially(async () => {
      let text: string;
      try {
        text = await Deno.readTextFile(this.#file);
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound
          ? "the file does not exist"
          : (error as Error).message;
        this.#reject(`cannot read ${this.#file}: ${reason}`, "");
        return;
      }
      this.#apply(text);
    });
  }

  /**
   * Sets flag `name` to `variant` (and enables it) by rewriting the file atomically, then applies
   * it at once. Throws a {@linkcode FlagChangeError} naming what is wrong.
   */
  setVariant(name: string, variant: string): Promise<FlagView> {
    return this.#serially(async () => {
      let text: string;
      try {
        text = await Deno.readTextFile(this.#file);
      } catch (error) {
        throw new FlagChangeError(
          error instanceof Deno.errors.NotFound ? 409 : 503,
          `cannot read ${this.#file}: ${(error as Error).message}`,
        );
      }
      const changed = withVariant(text, name, variant);
      if (!changed.ok) throw new FlagChangeError(changed.status, changed.error);
      try {
        await replaceFile(this.#file, changed.text);
      } catch (error) {
        throw new FlagChangeError(
          503,
          `cannot write ${this.#file}: ${(error as Error).message}`,
        );
      }
      this.#apply(changed.text);
      const flag = this.#flags.find((candidate) => candidate.name === name);
      return flag ?? changed.flag;
    });
  }

  /** Stops watching the file. */
  close(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }

  /** Runs reads and writes one at a time, so a poll never applies text older than a write. */
  #serially<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      this.#busy = true;
      try {
        return await operation();
      } finally {
        this.#busy = false;
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #apply(text: string): void {
    if (text === this.#lastText) return;
    const parsed = parseFlagFile(text, this.storage);
    if (!parsed.ok) {
      this.#reject(`${this.#file} is invalid: ${parsed.error}`, text);
      return;
    }
    const before = new Map(this.#flags.map((flag) => [flag.name, flag]));
    const first = this.#loadedAt === null;
    this.#flags = parsed.flags;
    this.#lastText = text;
    this.#loadedAt = Date.now();
    if (this.#error !== null) this.#log.info("flag file is valid again", { file: this.#file });
    this.#error = null;
    const changed = parsed.flags.filter((flag) => {
      const old = before.get(flag.name);
      return old === undefined || old.variant !== flag.variant ||
        JSON.stringify(old.value) !== JSON.stringify(flag.value);
    }).map((flag) => flag.name);
    for (const name of before.keys()) {
      if (!parsed.flags.some((flag) => flag.name === name)) changed.push(name);
    }
    if (first) {
      const on = parsed.flags.filter((flag) => flag.variant !== null && flag.variant !== "off");
      this.#log.info("flags loaded", {
        file: this.#file,
        flags: parsed.flags.length,
        on: on.map((flag) => `${flag.name}=${flag.variant}`),
      });
    } else {
      for (const name of changed) {
        const flag = parsed.flags.find((candidate) => candidate.name === name);
        this.#log.info(flag ? "flag changed" : "flag removed", {
          flag: name,
          variant: flag?.variant ?? null,
          value: flag?.value ?? null,
        });
      }
    }
    if (changed.length > 0) {
      for (const listener of this.#listeners) listener(changed);
    }
  }

  /** Keeps the last good flags and says why the file is not used, once per distinct problem. */
  #reject(error: string, text: string): void {
    this.#lastText = text;
    if (error === this.#error) return;
    this.#error = error;
    this.#log.warn(
      this.#loadedAt === null
        ? "flag file not usable; every flag is off until it is"
        : "flag file not usable; keeping the last good flags",
      { file: this.#file, error },
    );
  }
}
