import assert from "node:assert/strict";
import postgres from "postgres";
import { missingPostgres, postgresUrl, testWhen } from "../_test_needs.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate, type Migration } from "./migrate.ts";

const noPostgres = missingPostgres();

const MIGRATIONS: Migration[] = [
  { version: 2, name: "add source", sql: "alter table notes add column source text" },
  { version: 1, name: "create notes", sql: "create table notes (id int primary key, body text)" },
];

async function tableExists(sql: postgres.Sql, name: string): Promise<boolean> {
  const [row] = await sql`select to_regclass(${name}) is not null as present`;
  return row.present;
}

Deno.test({
  name: "migrate: on the embedded PostgreSQL (PGlite)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir();
    const server = await startEmbeddedPostgres(`${dir}/pg`);
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      await t.step("applies pending migrations in version order, once", async () => {
        assert.deepEqual(await migrate(sql, "app3", MIGRATIONS), [1, 2]);
        assert.ok(await tableExists(sql, "notes"));
        const columns = await sql`select column_name from information_schema.columns
          where table_name = 'notes' order by ordinal_position`;
        assert.deepEqual(columns.map((row) => row.column_name), ["id", "body", "source"]);
        const recorded = await sql`select owner, version, name, applied_at
          from schema_migrations where owner = 'app3' order by version`;
        assert.deepEqual(
          recorded.map((row) => [row.owner, row.version, row.name]),
          [["app3", 1, "create notes"], ["app3", 2, "add source"]],
        );
        assert.ok(recorded.every((row) => row.applied_at instanceof Date));
      });

      await t.step("is idempotent: a second run applies nothing", async () => {
        assert.deepEqual(await migrate(sql, "app3", MIGRATIONS), []);
        const [{ count }] = await sql`select count(*)::int as count from schema_migrations`;
        assert.equal(count, 2);
      });

      await t.step("applies only versions added since", async () => {
        const more = [
          ...MIGRATIONS,
          { version: 3, name: "index", sql: "create index notes_source on notes (source)" },
        ];
        assert.deepEqual(await migrate(sql, "app3", more), [3]);
        assert.deepEqual(await migrate(sql, "app3", more), []);
      });

      await t.step("owners are independent", async () => {
        const other: Migration[] = [
          { version: 1, name: "other", sql: "create table other_notes (id int)" },
        ];
        assert.deepEqual(await migrate(sql, "app9", other), [1]);
        assert.ok(await tableExists(sql, "other_notes"));
        assert.deepEqual(await migrate(sql, "app3", MIGRATIONS), []);
      });

      await t.step("a failing migration rolls the whole run back", async () => {
        const broken: Migration[] = [
          { version: 1, name: "ok", sql: "create table half_done (id int)" },
          { version: 2, name: "broken", sql: "create tabel nope (id int)" },
        ];
        await assert.rejects(
          migrate(sql, "app7", broken),
          (error) => (error as { code?: string }).code === "42601",
        );
        assert.equal(await tableExists(sql, "half_done"), false);
        const rows = await sql`select version from schema_migrations where owner = 'app7'`;
        assert.equal(rows.length, 0);
        const fixed = [broken[0], { ...broken[1], sql: "create table nope (id int)" }];
        assert.deepEqual(await migrate(sql, "app7", fixed), [1, 2]);
      });

      await t.step("concurrent runs through one client apply each version once", async () => {
        const batch: Migration[] = [
          { version: 1, name: "a", sql: "create table concurrent_a (id int)" },
          { version: 2, name: "b", sql: "create table concurrent_b (id int)" },
        ];
        const results = await Promise.all([1, 2, 3].map(() => migrate(sql, "app5", batch)));
        assert.deepEqual(results.flat().sort(), [1, 2]);
        assert.equal(results.filter((applied) => applied.length > 0).length, 1);
      });

      await t.step("the schema survives a restart of the embedded server", async () => {
        await sql.end();
        await server.stop();
        const again = await startEmbeddedPostgres(`${dir}/pg`);
        const reopened = postgres(again.url, { max: 1, onnotice: () => {} });
        try {
          assert.deepEqual(await migrate(reopened, "app3", MIGRATIONS), []);
          assert.ok(await tableExists(reopened, "notes"));
        } finally {
          await reopened.end();
          await again.stop();
        }
      });
    } finally {
      await sql.end().catch(() => {});
      await server.stop().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

testWhen(noPostgres, {
  name: "migrate: concurrent runners on separate connections do not race",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const owner = `unit-${crypto.randomUUID()}`;
    const suffix = owner.slice(-12);
    const batch: Migration[] = [
      { version: 1, name: "a", sql: `create table race_a_${suffix} (id int)` },
      { version: 2, name: "b", sql: `create table race_b_${suffix} (id int)` },
    ];
    const clients = Array.from(
      { length: 5 },
      () => postgres(postgresUrl()!, { max: 1, onnotice: () => {} }),
    );
    try {
      const results = await Promise.all(clients.map((sql) => migrate(sql, owner, batch)));
      assert.deepEqual(results.flat().sort(), [1, 2], JSON.stringify(results));
      assert.equal(results.filter((applied) => applied.length > 0).length, 1);
    } finally {
      const sql = clients[0];
      await sql.unsafe(`drop table if exists race_a_${suffix}, race_b_${suffix}`);
      await sql`delete from schema_migrations where owner = ${owner}`;
      await Promise.all(clients.map((client) => client.end()));
    }
  },
});
