/**
 * Schema migrations, applied in order inside one transaction under an advisory lock, so hosts
 * starting together never race; each version runs once per database.
 *
 * @example
 * ```ts
 * import type { Migration } from "./migrate.ts";
 * const migrations: Migration[] = [
 *   { version: 1, name: "create messages", sql: "create table messages (id uuid primary key)" },
 * ];
 * // await migrate(client.sql, "app3", migrations);
 * ```
 * @module
 */
import type postgres from "postgres";

/** One schema change. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Lock id shared by every host of this project (an arbitrary constant). */
const LOCK_ID = 7_312_001;

/** Applies the migrations of `owner` not applied yet; returns the versions it applied. */
export async function migrate(
  sql: postgres.Sql,
  owner: string,
  migrations: readonly Migration[],
): Promise<number[]> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_ID})`;
    await tx`create table if not exists schema_migrations (
      owner text not null,
      version integer not null,
      name text not null,
      applied_at timestamptz not null default now(),
      primary key (owner, version)
    )`;
    const done = new Set(
      (await tx`select version from schema_migrations where owner = ${owner}`).map((row) =>
        Number(row.version)
      ),
    );
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx`insert into schema_migrations (owner, version, name)
        values (${owner}, ${migration.version}, ${migration.name})`;
      applied.push(migration.version);
    }
    return applied;
  });
}
