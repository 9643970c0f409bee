import assert from "node:assert/strict";
import postgres from "postgres";
import { unpackTar } from "modern-tar";
import { preparedDataDir, startEmbeddedPostgres } from "./embedded.ts";

const pgTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

pgTest(
  "startEmbeddedPostgres: a fresh folder is unpacked from the prepared cluster, then reopened",
  async () => {
    const root = await Deno.makeTempDir();
    const dir = `${root}/data/pg`;
    try {
      const fresh = await startEmbeddedPostgres(dir);
      assert.equal(fresh.origin, "prepared", "no initdb for a fresh folder");
      let sql = postgres(fresh.url, { max: 1, onnotice: () => {} });
      try {
        await sql`create table notes (id int primary key, body text not null)`;
        await sql`insert into notes values (1, 'kept')`;
        const [{ shared_buffers }] = await sql`show shared_buffers`;
        assert.equal(shared_buffers, "8MB");
      } finally {
        await sql.end();
        await fresh.stop();
      }
      const entries = [];
      for await (const entry of Deno.readDir(`${root}/data`)) entries.push(entry.name);
      assert.deepEqual(entries, ["pg"], "no scratch folder is left beside it");

      const again = await startEmbeddedPostgres(dir);
      assert.equal(again.origin, "existing");
      sql = postgres(again.url, { max: 1, onnotice: () => {} });
      try {
        assert.deepEqual([...await sql`select body from notes`], [{ body: "kept" }]);
      } finally {
        await sql.end();
        await again.stop();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

pgTest(
  "startEmbeddedPostgres: a folder a crashed first start left without a cluster is made anew",
  async () => {
    const root = await Deno.makeTempDir();
    const dir = `${root}/pg`;
    try {
      await Deno.mkdir(`${dir}/base`, { recursive: true });
      await Deno.writeTextFile(`${dir}/base/half-written`, "x");
      const server = await startEmbeddedPostgres(dir);
      try {
        assert.equal(server.origin, "prepared");
        const sql = postgres(server.url, { max: 1, onnotice: () => {} });
        assert.deepEqual([...await sql`select 1 as one`], [{ one: 1 }]);
        await sql.end();
      } finally {
        await server.stop();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("the prepared cluster ships for the PGlite in deno.json (else run deno task pgdata)", async () => {
  const archive = await preparedDataDir();
  const entries = await unpackTar(
    (await Deno.open(archive)).readable.pipeThrough(new DecompressionStream("gzip")),
  );
  const names = new Set(entries.map((entry) => entry.header.name));
  for (const name of ["PG_VERSION", "postgresql.conf", "global/pg_control", "base/5/2604"]) {
    assert.ok(names.has(name), `${name} is in ${archive.pathname}`);
  }
  const file = entries.find((entry) => entry.header.name === "base/5/2604");
  assert.equal(file?.header.type, "file", "empty files stay files");
});
