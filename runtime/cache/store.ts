/**
 * The embedded store behind the REST bridge when no Redis is configured: string keys with TTLs,
 * in memory and journaled to a file so a restart (even after SIGKILL) finds what was written.
 * It answers what the cache client sends (`PING`, `GET`, `SET key value [EX seconds]`) with
 * Redis's replies and error texts. The journal is compacted on open and past twice as many lines
 * as keys; a write is answered once journaled, on disk as `EMBEDDED_FSYNC` says.
 *
 * @example
 * ```ts
 * import { openEmbeddedStore } from "./store.ts";
 * const store = await openEmbeddedStore(await Deno.makeTempDir());
 * const [ok, value] = await store.execute([["SET", "k", "v", "EX", "60"], ["GET", "k"]]);
 * console.log(ok, value); // { result: "OK" } { result: "v" }
 * await store.close();
 * ```
 * @module
 */
import { FileSync, type FsyncPolicy } from "../file_sync.ts";
import type { Backend, Command, Outcome } from "./bridge.ts";

/** A key's value and when it expires (Unix ms; null for never). */
type Entry = { readonly value: string; readonly expiresAt: number | null };

/** A journal line: a key set to a value, expiring at (Unix ms, or null). */
type JournalLine = ["s", string, string, number | null];

const error = (text: string): Outcome => ({ error: `ERR ${text}` });
const wrongArgs = (name: string) => error(`wrong number of arguments for '${name}' command`);
const expired = (entry: Entry | undefined, now: number) =>
  entry !== undefined && entry.expiresAt !== null && entry.expiresAt <= now;

/** Opens the store kept in `dir`, replaying its journal; compacts past `compactAfter` lines. */
export async function openEmbeddedStore(
  dir: string,
  compactAfter = 10_000,
  fsync: FsyncPolicy = "interval",
): Promise<Backend> {
  const sync = new FileSync(fsync);
  await Deno.mkdir(dir, { recursive: true });
  const journalPath = `${dir}/journal.jsonl`;
  const entries = new Map<string, Entry>();
  const missing = (error: unknown) =>
    error instanceof Deno.errors.NotFound ? "" : Promise.reject(error);
  const text = await Deno.readTextFile(journalPath).catch(missing);
  for (const line of text.split("\n")) {
    let record: JournalLine;
    try {
      record = JSON.parse(line);
    } catch {
      continue; // an empty line, or one cut short by a crash mid-write
    }
    entries.set(record[1], { value: record[2], expiresAt: record[3] });
  }

  let journal: Deno.FsFile;
  let lines = 0;
  const sweep = (now = Date.now()) => {
    for (const [key, entry] of entries) if (expired(entry, now)) entries.delete(key);
  };
  const append = (records: JournalLine[]) => {
    let bytes = new TextEncoder().encode(records.map((r) => JSON.stringify(r) + "\n").join(""));
    while (bytes.length > 0) bytes = bytes.subarray(journal.writeSync(bytes));
    lines += records.length;
  };
  /** Rewrites the journal as the live keys, atomically (write aside, then rename). */
  const compact = () => {
    sweep();
    if (journal) sync.retire(journal);
    journal = Deno.openSync(`${journalPath}.tmp`, { write: true, create: true, truncate: true });
    lines = 0;
    append([...entries].map(([key, { value, expiresAt }]) => ["s", key, value, expiresAt]));
    if (fsync !== "never") journal.syncDataSync();
    Deno.renameSync(`${journalPath}.tmp`, journalPath);
  };
  compact();

  const get = (key: string, now: number) =>
    expired(entries.get(key), now) ? undefined : entries.get(key);

  const run = ([rawName = "", ...args]: Command, writes: JournalLine[]): Outcome => {
    const name = rawName.toLowerCase();
    const now = Date.now();
    switch (name) {
      case "ping":
        return args.length > 1 ? wrongArgs(name) : { result: args[0] ?? "PONG" };
      case "get":
        return args.length !== 1 ? wrongArgs(name) : { result: get(args[0], now)?.value ?? null };
      case "set": {
        if (args.length < 2) return wrongArgs(name);
        const [key, value, ...rest] = args;
        let expiresAt: number | null = null;
        if (rest.length > 0) {
          if (rest.length !== 2 || rest[0].toUpperCase() !== "EX") return error("syntax error");
          const integer = /^-?\d{1,18}$/.test(rest[1]);
          if (!integer) return error("value is not an integer or out of range");
          if (Number(rest[1]) <= 0) return error("invalid expire time in 'set' command");
          expiresAt = now + Number(rest[1]) * 1000;
        }
        entries.set(key, { value, expiresAt });
        writes.push(["s", key, value, expiresAt]);
        return { result: "OK" };
      }
      default: {
        const first = args.slice(0, 3).map((arg) => `'${arg}' `).join("");
        return error(`unknown command '${rawName}', with args beginning with: ${first}`);
      }
    }
  };

  // Expired keys nobody reads again leave memory within a minute.
  const sweeper = setInterval(sweep, 60_000);
  Deno.unrefTimer(sweeper);

  return {
    async execute(commands) {
      const writes: JournalLine[] = [];
      const outcomes = commands.map((command) => run(command, writes));
      if (writes.length > 0) {
        append(writes);
        if (lines > compactAfter && lines > 2 * entries.size) compact();
        await sync.wrote(journal);
      }
      return outcomes;
    },
    async close() {
      clearInterval(sweeper);
      await sync.close();
      journal.close();
    },
  };
}
