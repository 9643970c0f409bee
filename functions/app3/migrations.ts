/**
 * app3's schema: the `messages` table of the interface contract.
 * @module
 */
import type { Migration } from "../../runtime/mod.ts";

/** Applied in order at start, once per database. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "create messages",
    sql: `create table if not exists messages (
      id uuid primary key,
      content text not null,
      source text not null,
      created_at timestamptz not null default now()
    )`,
  },
];
