/**
 * `deno task pgdata`: makes the prepared cluster the embedded PostgreSQL unpacks into a fresh data
 * folder (`runtime/db/pgdata-<PGlite version>.tar.gz`, replacing those of other versions): PGlite
 * runs `initdb` in a scratch folder and shuts down cleanly, and the folder is packed as it was
 * left (a cluster dumped while running would need crash recovery at every fresh start), then
 * opened once more from the archive to check it. Run it after upgrading PGlite; until then a
 * fresh folder falls back to `initdb` (a test says so).
 *
 * ```sh
 * deno task pgdata
 * ```
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { packTar, type TarEntry } from "modern-tar";
import { preparedDataDir, startEmbeddedPostgres } from "./embedded.ts";

/** 1 MB WAL segments instead of 16: less to unpack at every fresh start. */
const WAL_SEGMENT_BYTES = 1024 * 1024;

/** Runs `initdb` in `dir` and shuts down; the name of the WAL segment the cluster ends in. */
async function initCluster(dir: string): Promise<string> {
  const db = await PGlite.create(dir, { initDbStartParams: ["--wal-segsize=1"] });
  try {
    const position = async () =>
      (await db.query<{ segment: string; used: number }>(
        `select pg_walfile_name(pg_current_wal_insert_lsn()) as segment,
          ((pg_current_wal_insert_lsn() - '0/0') % ${WAL_SEGMENT_BYTES})::int as used`,
      )).rows[0];
    await db.exec("CHECKPOINT");
    // The shutdown checkpoint goes where the WAL ends now: kept clear of a segment's end, it
    // lands in the segment that is kept.
    if ((await position()).used > WAL_SEGMENT_BYTES - 64 * 1024) {
      await db.exec("select pg_switch_wal(); CHECKPOINT");
    }
    return (await position()).segment;
  } finally {
    await db.close();
  }
}

/** The folder's entries, folders before what they hold, in name order (the same archive each time). */
async function entriesOf(dir: string, keep: (name: string) => boolean): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const walk = async (prefix: string) => {
    const names = [];
    for await (const entry of Deno.readDir(`${dir}/${prefix}`)) names.push(entry);
    names.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const entry of names) {
      const name = `${prefix}${entry.name}`;
      if (!keep(name)) continue;
      const header = { name, mtime: new Date(0), uid: 0, gid: 0 };
      if (entry.isDirectory) {
        entries.push({
          header: { ...header, name: `${name}/`, type: "directory", size: 0, mode: 0o700 },
        });
        await walk(`${name}/`);
      } else if (entry.isFile) {
        const body = await Deno.readFile(`${dir}/${name}`);
        entries.push({ header: { ...header, type: "file", size: body.length, mode: 0o600 }, body });
      } else {
        throw new Error(`${dir}/${name} is neither a file nor a folder`);
      }
    }
  };
  await walk("");
  return entries;
}

const target = await preparedDataDir();
const scratch = await Deno.makeTempDir({ prefix: "pgdata-" });
try {
  const current = await initCluster(`${scratch}/pg`);
  // Segments after the current one are recycled spares the server makes again when it needs them.
  const entries = await entriesOf(`${scratch}/pg`, (name) => {
    const segment = /^pg_wal\/([0-9A-F]{24})$/.exec(name)?.[1];
    return segment === undefined || segment <= current;
  });
  const archive = await new Response(
    new Blob([await packTar(entries)]).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  await Deno.writeFile(target, archive);
  console.log(`wrote ${target.pathname} (${archive.length} bytes; ${entries.length} entries)`);

  const check = await startEmbeddedPostgres(`${scratch}/check`);
  await check.stop();
  if (check.origin !== "prepared") throw new Error(`${target.pathname} was not used`);
} finally {
  await Deno.remove(scratch, { recursive: true });
}
const folder = new URL(".", target);
for await (const entry of Deno.readDir(folder)) {
  const old = new URL(entry.name, folder);
  if (/^pgdata-.*\.tar\.gz$/.test(entry.name) && old.href !== target.href) {
    await Deno.remove(old);
    console.log(`removed ${old.pathname}`);
  }
}
