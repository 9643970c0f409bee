/**
 * The embedded PostgreSQL: PGlite on a local data folder, served over the PostgreSQL wire
 * protocol on 127.0.0.1 so postgres.js works unchanged. PGlite serves one connection at a time.
 *
 * A fresh folder is not made by `initdb` (seconds of WebAssembly, and a second PGlite instance
 * whose memory stays resident): it is unpacked from a cluster prepared once and shipped beside
 * this module (`pgdata-<PGlite version>.tar.gz`, made by `deno task pgdata`), into a scratch
 * folder first and renamed into place, so a crash during the first start never leaves a
 * half-made cluster. Without one for the PGlite in use (after an upgrade, until the task runs
 * again) `initdb` makes the folder as before. The
 * server runs with small buffers (`shared_buffers` 8 MB instead of 128 MB): the buffer pool is
 * memory the process keeps resident, and a local run's writes touch few pages (the newest heap
 * page, the index); what falls out is read back from the page cache.
 *
 * @example
 * ```ts
 * import { startEmbeddedPostgres } from "./embedded.ts";
 * const server = await startEmbeddedPostgres(await Deno.makeTempDir());
 * console.log(server.url); // postgres://postgres@127.0.0.1:PORT/postgres
 * await server.stop();
 * ```
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createTarDecoder } from "modern-tar";

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  readonly url: string;
  /** How the data folder came to be: it existed, it was unpacked, or `initdb` made it. */
  readonly origin: "existing" | "prepared" | "initdb";
  stop(): Promise<void>;
}

/** The version of the PGlite package in use. */
export async function pgliteVersion(): Promise<string> {
  const manifest = new URL("../package.json", import.meta.resolve("@electric-sql/pglite"));
  return JSON.parse(await Deno.readTextFile(manifest)).version;
}

/**
 * The prepared cluster for this PGlite (an empty, initialised data folder as PGlite dumps it):
 * made by the same version, so its PostgreSQL reads it.
 */
export async function preparedDataDir(): Promise<URL> {
  return new URL(`./pgdata-${await pgliteVersion()}.tar.gz`, import.meta.url);
}

/** Server settings on top of PGlite's own. */
export const START_PARAMS: readonly string[] = [
  ...(PGlite as unknown as { defaultStartParams: string[] }).defaultStartParams,
  "-c",
  "shared_buffers=8MB",
];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Makes `dir` the prepared cluster: unpacked into a scratch folder beside it, then renamed into
 * place. False when there is none for this PGlite version.
 *
 * The archive streams through: each file is written as soon as it is decoded (a few KB at a
 * time), so neither the archive nor its 25 MB of files are ever held in memory whole. Files are
 * written with blocking calls (each one small; one thread hop per call cost more than the write).
 */
async function unpackPrepared(dir: string): Promise<boolean> {
  let archive: Deno.FsFile;
  try {
    archive = await Deno.open(await preparedDataDir());
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  const scratch = `${dir}.unpacking-${Deno.pid}`;
  await Deno.remove(scratch, { recursive: true }).catch(() => {});
  await Deno.mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const entries = archive.readable
      .pipeThrough(new DecompressionStream("gzip"))
      .pipeThrough(createTarDecoder({ strict: true }));
    for await (const { header, body } of entries) {
      const path = `${scratch}/${safeName(header.name)}`;
      if (header.type === "directory") {
        Deno.mkdirSync(path, { recursive: true, mode: 0o700 });
        await body.cancel();
      } else if (header.type === "file") {
        using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
        for await (const chunk of body) {
          for (let written = 0; written < chunk.length;) {
            written += file.writeSync(chunk.subarray(written));
          }
        }
      } else {
        throw new Error(`${header.name} is a ${header.type}, not a file or folder`);
      }
    }
  } catch (error) {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `could not unpack the prepared cluster ${(await preparedDataDir()).pathname}: ${message}`,
      { cause: error },
    );
  }
  // A folder without PG_VERSION holds no cluster (an earlier first start died in initdb).
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(scratch, dir);
  return true;
}

/** An archive entry's name, checked to stay inside the folder it is unpacked into. */
function safeName(name: string): string {
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (name.startsWith("/") || parts.includes("..") || parts.length === 0) {
    throw new Error(`the prepared cluster has an entry outside its folder: ${name}`);
  }
  return parts.join("/");
}

/** Opens (or creates) the database in `dir` and serves it on an ephemeral local port. */
export async function startEmbeddedPostgres(dir: string): Promise<EmbeddedPostgres> {
  let origin: EmbeddedPostgres["origin"] = "existing";
  if (!await exists(`${dir}/PG_VERSION`)) {
    const parent = dir.replace(/\/+[^/]+\/*$/, "");
    if (parent !== dir && parent !== "") await Deno.mkdir(parent, { recursive: true });
    origin = await unpackPrepared(dir) ? "prepared" : "initdb";
  }
  await Deno.mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir, { startParams: [...START_PARAMS] });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres`,
    origin,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
