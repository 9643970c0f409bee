/**
 * The embedded PostgreSQL: PGlite on a local data folder, served over the PostgreSQL wire
 * protocol on 127.0.0.1 so postgres.js works unchanged. PGlite serves one connection at a time.
 *
 * @example
 * ```ts
 * import { startEmbeddedPostgres } from "./embedded.ts";
 * const server = await startEmbeddedPostgres(".data/pg");
 * console.log(server.url); // postgres://postgres@127.0.0.1:PORT/postgres
 * await server.stop();
 * ```
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

/** Opens (or creates) the database in `dir` and serves it on an ephemeral local port. */
export async function startEmbeddedPostgres(dir: string): Promise<EmbeddedPostgres> {
  await Deno.mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
