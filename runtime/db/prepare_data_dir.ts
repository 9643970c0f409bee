/**
 * `deno task pgdata`: makes the prepared cluster the embedded PostgreSQL unpacks into a fresh data
 * folder (`runtime/db/pgdata-<PGlite version>.tar.gz`, replacing those of other versions): PGlite
 * runs `initdb` in memory, and its data folder is dumped as PGlite itself would load it. Run it
 * after upgrading PGlite; until then a fresh folder falls back to `initdb` (a test says so).
 *
 * ```sh
 * deno task pgdata
 * ```
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { packTar, unpackTar } from "modern-tar";
import { preparedDataDir } from "./embedded.ts";

const target = await preparedDataDir();
// 1 MB WAL segments instead of 16: less to unpack at every fresh start.
const db = await PGlite.create({ initDbStartParams: ["--wal-segsize=1"] });
try {
  await db.exec("CHECKPOINT");
  const { rows } = await db.query<{ segment: string }>(
    "select pg_walfile_name(pg_current_wal_lsn()) as segment",
  );
  const current = rows[0].segment;
  // PGlite names the entries from the root ("/base/1/…"); the archive holds the folder's contents.
  const entries = await unpackTar((await db.dumpDataDir("none")).stream(), {
    map: (header) => ({ ...header, name: header.name.replace(/^\/+/, "") }),
  });
  // Segments after the current one are recycled spares the server makes again when it needs them.
  const kept = entries.filter((entry) => {
    const segment = /^pg_wal\/([0-9A-F]{24})$/.exec(entry.header.name)?.[1];
    return segment === undefined || segment <= current;
  });
  const archive = await new Response(
    new Blob([await packTar(kept)]).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  await Deno.writeFile(target, archive);
  console.log(
    `wrote ${target.pathname} (${archive.length} bytes; ${kept.length} of ${entries.length} entries)`,
  );
} finally {
  await db.close();
}
const folder = new URL(".", target);
for await (const entry of Deno.readDir(folder)) {
  const old = new URL(entry.name, folder);
  if (/^pgdata-.*\.tar\.gz$/.test(entry.name) && old.href !== target.href) {
    await Deno.remove(old);
    console.log(`removed ${old.pathname}`);
  }
}
