/**
 * The embedded Redis-compatible store: string keys with TTLs, kept in memory and journaled to a
 * local file so a restart (even after SIGKILL) finds what was written. It answers the commands
 * the functions, the tests and a curl user need, with Redis's replies and error texts.
 *
 * @example
 * ```ts
 * import { EmbeddedStore } from "./store.ts";
 * const store = await EmbeddedStore.open(await Deno.makeTempDir());
 * const [ok, value] = await store.execute([["SET", "k", "v", "EX", "60"], ["GET", "k"]]);
 * console.log(ok, value); // "OK" "v"
 * store.close();
 * ```
 * @module
 */
import type { Command, CommandBackend } from "./bridge.ts";
import { RespError, type RespValue } from "./resp.ts";

interface Entry {
  value: string;
  /** Unix milliseconds, or undefined for no expiry. */
  expiresAt: number | undefined;
  /** When the key was created, in creation order: SCAN's cursor, stable across deletes. */
  seq: number;
}

/** A journal line: set (key, value, expiresAt|null) or delete (key) or flush. */
type JournalLine = ["s", string, string, number | null] | ["d", string] | ["f"];

const JOURNAL = "journal.jsonl";
const encoder = new TextEncoder();

const wrongArgs = (name: string) =>
  new RespError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
const syntaxError = () => new RespError("ERR syntax error");
const notInteger = () => new RespError("ERR value is not an integer or out of range");

/** An in-process store behind the same command interface as a Redis server. */
export class EmbeddedStore implements CommandBackend {
  readonly #entries: Map<string, Entry>;
  #lastSeq: number;
  readonly #journal: Deno.FsFile;
  readonly #sweeper: ReturnType<typeof setInterval>;

  private constructor(journal: Deno.FsFile, entries: Map<string, Entry>) {
    this.#journal = journal;
    this.#entries = entries;
    this.#lastSeq = entries.size;
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    Deno.unrefTimer(this.#sweeper);
  }

  /** Opens the store kept in `dir`, replaying and compacting its journal. */
  static async open(dir: string): Promise<EmbeddedStore> {
    await Deno.mkdir(dir, { recursive: true });
    const path = `${dir}/${JOURNAL}`;
    const entries = new Map<string, Entry>();
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const line of text.split("\n")) {
      if (line === "") continue;
      let record: JournalLine;
      try {
        record = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash mid-write
      }
      if (record[0] === "s") {
        const seq = entries.get(record[1])?.seq ?? entries.size + 1;
        entries.set(record[1], { value: record[2], expiresAt: record[3] ?? undefined, seq });
      } else if (record[0] === "d") entries.delete(record[1]);
      else entries.clear();
    }
    const now = Date.now();
    const live = [...entries].filter(([, entry]) => !isExpired(entry, now));
    const compacted = live.map(([key, entry]) =>
      JSON.stringify(["s", key, entry.value, entry.expiresAt ?? null]) + "\n"
    ).join("");
    await Deno.writeTextFile(`${path}.tmp`, compacted);
    await Deno.rename(`${path}.tmp`, path);
    const journal = await Deno.open(path, { append: true });
    // Creation numbers start afresh, in the same order.
    return new EmbeddedStore(
      journal,
      new Map(live.map(([key, entry], i) => [key, { ...entry, seq: i + 1 }])),
    );
  }

  /** Runs the commands in order; a store never fails as a whole, only per command. */
  execute(commands: readonly Command[]): Promise<RespValue[]> {
    const writes: JournalLine[] = [];
    const replies = commands.map((command) => this.#run(command, writes));
    if (writes.length > 0) {
      let bytes = encoder.encode(writes.map((line) => JSON.stringify(line)).join("\n") + "\n");
      while (bytes.length > 0) bytes = bytes.subarray(this.#journal.writeSync(bytes));
    }
    return Promise.resolve(replies);
  }

  /** Closes the journal. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#journal.close();
  }

  #get(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && isExpired(entry, Date.now())) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #put(key: string, value: string, expiresAt: number | undefined, writes: JournalLine[]): void {
    const seq = this.#entries.get(key)?.seq ?? ++this.#lastSeq;
    this.#entries.set(key, { value, expiresAt, seq });
    writes.push(["s", key, value, expiresAt ?? null]);
  }

  #delete(key: string, writes: JournalLine[]): boolean {
    const existed = this.#get(key) !== undefined;
    if (existed) {
      this.#entries.delete(key);
      writes.push(["d", key]);
    }
    return existed;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) {
      if (isExpired(entry, now)) this.#entries.delete(key);
    }
  }

  #run(command: Command, writes: JournalLine[]): RespValue {
    const [rawName, ...args] = command;
    const name = (rawName ?? "").toUpperCase();
    const arity = (min: number, max = min) => args.length >= min && args.length <= max;
    const now = Date.now();
    switch (name) {
      case "PING":
        if (!arity(0, 1)) return wrongArgs(name);
        return args[0] ?? "PONG";
      case "ECHO":
        return arity(1) ? args[0] : wrongArgs(name);
      case "GET":
        return arity(1) ? this.#get(args[0])?.value ?? null : wrongArgs(name);
      case "GETDEL": {
        if (!arity(1)) return wrongArgs(name);
        const value = this.#get(args[0])?.value ?? null;
        this.#delete(args[0], writes);
        return value;
      }
      case "MGET":
        return arity(1, Infinity)
          ? args.map((key) => this.#get(key)?.value ?? null)
          : wrongArgs(name);
      case "SET":
        return args.length < 2 ? wrongArgs(name) : this.#set(args, now, writes);
      case "SETEX":
      case "PSETEX": {
        if (!arity(3)) return wrongArgs(name);
        const amount = toInteger(args[1]);
        if (amount === undefined) return notInteger();
        if (amount <= 0) {
          return new RespError(`ERR invalid expire time in '${name.toLowerCase()}' command`);
        }
        this.#put(args[0], args[2], now + amount * (name === "SETEX" ? 1000 : 1), writes);
        return "OK";
      }
      case "MSET": {
        if (args.length === 0 || args.length % 2 !== 0) return wrongArgs(name);
        for (let i = 0; i < args.length; i += 2) this.#put(args[i], args[i + 1], undefined, writes);
        return "OK";
      }
      case "DEL":
      case "UNLINK":
        return arity(1, Infinity)
          ? args.filter((key) => this.#delete(key, writes)).length
          : wrongArgs(name);
      case "EXISTS":
        return arity(1, Infinity)
          ? args.filter((key) => this.#get(key) !== undefined).length
          : wrongArgs(name);
      case "EXPIRE":
      case "PEXPIRE":
      case "EXPIREAT":
      case "PEXPIREAT": {
        if (!arity(2)) return wrongArgs(name);
        const amount = toInteger(args[1]);
        if (amount === undefined) return notInteger();
        const entry = this.#get(args[0]);
        if (!entry) return 0;
        const expiresAt = name === "EXPIRE"
          ? now + amount * 1000
          : name === "PEXPIRE"
          ? now + amount
          : name === "EXPIREAT"
          ? amount * 1000
          : amount;
        if (expiresAt <= now) this.#delete(args[0], writes);
        else this.#put(args[0], entry.value, expiresAt, writes);
        return 1;
      }
      case "PERSIST": {
        if (!arity(1)) return wrongArgs(name);
        const entry = this.#get(args[0]);
        if (!entry || entry.expiresAt === undefined) return 0;
        this.#put(args[0], entry.value, undefined, writes);
        return 1;
      }
      case "TTL":
      case "PTTL": {
        if (!arity(1)) return wrongArgs(name);
        const entry = this.#get(args[0]);
        if (!entry) return -2;
        if (entry.expiresAt === undefined) return -1;
        const left = entry.expiresAt - now;
        return name === "TTL" ? Math.round(left / 1000) : left;
      }
      case "INCR":
      case "DECR":
      case "INCRBY":
      case "DECRBY": {
        const byArg = name.endsWith("BY");
        if (!arity(byArg ? 2 : 1)) return wrongArgs(name);
        const step = byArg ? toInt64(args[1]) : 1n;
        const entry = this.#get(args[0]);
        const current = entry ? toInt64(entry.value) : 0n;
        if (step === undefined || current === undefined) return notInteger();
        const next = current + (name.startsWith("DECR") ? -step : step);
        if (next > INT64_MAX || next < INT64_MIN) {
          return new RespError("ERR increment or decrement would overflow");
        }
        this.#put(args[0], String(next), entry?.expiresAt, writes);
        return Number(next);
      }
      case "APPEND": {
        if (!arity(2)) return wrongArgs(name);
        const entry = this.#get(args[0]);
        const value = (entry?.value ?? "") + args[1];
        this.#put(args[0], value, entry?.expiresAt, writes);
        return encoder.encode(value).length;
      }
      case "STRLEN":
        return arity(1) ? encoder.encode(this.#get(args[0])?.value ?? "").length : wrongArgs(name);
      case "TYPE":
        return arity(1) ? (this.#get(args[0]) ? "string" : "none") : wrongArgs(name);
      case "DBSIZE":
        this.#sweep();
        return this.#entries.size;
      case "KEYS": {
        if (!arity(1)) return wrongArgs(name);
        const pattern = globToRegExp(args[0]);
        return [...this.#entries.keys()].filter((key) =>
          pattern.test(key) && this.#get(key) !== undefined
        );
      }
      case "SCAN":
        return this.#scan(args);
      case "FLUSHDB":
      case "FLUSHALL":
        this.#entries.clear();
        writes.push(["f"]);
        return "OK";
      default:
        return new RespError(
          `ERR unknown command '${rawName ?? ""}', with args beginning with: ${
            args.slice(0, 3).map((arg) => `'${arg}'`).join(" ")
          }`,
        );
    }
  }

  /** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
  #set(args: readonly string[], now: number, writes: JournalLine[]): RespValue {
    const [key, value, ...options] = args;
    let expiresAt: number | undefined;
    let keepTtl = false;
    let condition: "NX" | "XX" | undefined;
    let returnOld = false;
    let expirySet = false;
    for (let i = 0; i < options.length; i++) {
      const option = options[i].toUpperCase();
      if (option === "NX" || option === "XX") {
        if (condition !== undefined) return syntaxError();
        condition = option;
      } else if (option === "GET") returnOld = true;
      else if (option === "KEEPTTL") {
        if (expirySet) return syntaxError();
        keepTtl = expirySet = true;
      } else if (["EX", "PX", "EXAT", "PXAT"].includes(option)) {
        if (expirySet || i + 1 >= options.length) return syntaxError();
        const amount = toInteger(options[++i]);
        if (amount === undefined) return notInteger();
        if (amount <= 0) return new RespError("ERR invalid expire time in 'set' command");
        expiresAt = option === "EX"
          ? now + amount * 1000
          : option === "PX"
          ? now + amount
          : option === "EXAT"
          ? amount * 1000
          : amount;
        expirySet = true;
      } else return syntaxError();
    }
    const existing = this.#get(key);
    const old = existing?.value ?? null;
    if ((condition === "NX" && existing) || (condition === "XX" && !existing)) {
      return returnOld ? old : null;
    }
    this.#put(key, value, keepTtl ? existing?.expiresAt : expiresAt, writes);
    return returnOld ? old : "OK";
  }

  /**
   * SCAN cursor [MATCH pattern] [COUNT n]. The cursor is the creation number of the last key
   * visited, so deletes never make a page skip a key (a key deleted and created again may come
   * twice, as Redis allows).
   */
  #scan(args: readonly string[]): RespValue {
    if (args.length < 1) return wrongArgs("SCAN");
    const cursor = toInteger(args[0]);
    if (cursor === undefined || cursor < 0) return new RespError("ERR invalid cursor");
    let pattern: RegExp | undefined;
    let count = 10;
    for (let i = 1; i < args.length; i += 2) {
      const option = args[i].toUpperCase();
      const value = args[i + 1];
      if (value === undefined) return syntaxError();
      if (option === "MATCH") pattern = globToRegExp(value);
      else if (option === "COUNT") {
        const parsed = toInteger(value);
        if (parsed === undefined || parsed < 1) return syntaxError();
        count = parsed;
      } else if (option !== "TYPE") return syntaxError();
    }
    // Map order is creation order, which is ascending `seq`.
    const page: string[] = [];
    let visited = 0;
    let last = 0;
    let more = false;
    for (const [key, entry] of this.#entries) {
      if (entry.seq <= cursor) continue;
      if (visited === count) {
        more = true;
        break;
      }
      visited++;
      last = entry.seq;
      if ((!pattern || pattern.test(key)) && this.#get(key) !== undefined) page.push(key);
    }
    return [String(more ? last : 0), page];
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** A signed 64-bit integer in decimal, as Redis reads one. */
function toInt64(text: string): bigint | undefined {
  if (!/^-?\d{1,19}$/.test(text)) return undefined;
  const value = BigInt(text);
  return value > INT64_MAX || value < INT64_MIN ? undefined : value;
}

function toInteger(text: string): number | undefined {
  const value = toInt64(text);
  return value === undefined ? undefined : Number(value);
}

/** Redis glob patterns: `*`, `?`, `[abc]`, `[^a]`, `\x`. */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "\\" && i + 1 < glob.length) source += escapeRegExp(glob[++i]);
    else if (char === "[") {
      const close = glob.indexOf("]", i + 1);
      if (close === -1) source += "\\[";
      else {
        const body = glob.slice(i + 1, close).replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = close;
      }
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, "s");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
