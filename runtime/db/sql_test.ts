import assert from "node:assert/strict";
import { describeQuery } from "./sql.ts";

Deno.test("describeQuery: the operation and table of common statements", () => {
  const cases: Array<[string, string, string | undefined]> = [
    ["insert into messages (id, content) values ($1, $2)", "INSERT", "messages"],
    [
      "INSERT INTO messages(id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING *",
      "INSERT",
      "messages",
    ],
    ["insert into public.messages (id) values ($1)", "INSERT", "public.messages"],
    ['insert into "Messages" (id) values ($1)', "INSERT", "Messages"],
    ['insert into "public"."Messages" (id) values ($1)', "INSERT", "public.Messages"],
    ["update messages set content = $2 where id = $1", "UPDATE", "messages"],
    ["UPDATE ONLY messages SET content = $1", "UPDATE", "messages"],
    ["delete from messages where id = $1", "DELETE", "messages"],
    ["DELETE FROM ONLY audit$log WHERE id = $1", "DELETE", "audit$log"],
    ["select id, content, source, created_at from messages where id = $1", "SELECT", "messages"],
    ["SELECT count(*) FROM public.messages", "SELECT", "public.messages"],
    ["\n  select *\n  from\n    messages\n  where id = $1", "SELECT", "messages"],
    ["  Select 1", "SELECT", undefined],
    ["select now()", "SELECT", undefined],
    ["select pg_advisory_xact_lock($1)", "SELECT", undefined],
    ["create table if not exists messages (id uuid primary key)", "CREATE", undefined],
    ["ALTER TABLE messages ADD COLUMN x int", "ALTER", undefined],
    ["begin", "BEGIN", undefined],
    ["with recent as (select * from messages) select * from recent", "WITH", undefined],
    ["", "QUERY", undefined],
    ["   ", "QUERY", undefined],
    ["(select 1)", "QUERY", undefined],
  ];
  for (const [text, operation, collection] of cases) {
    assert.deepEqual(
      describeQuery(text),
      collection === undefined ? { operation } : { operation, collection },
      text,
    );
  }
});

Deno.test("describeQuery: never returns values from the statement", () => {
  const text = "select * from messages where content = 'card 4111' and id = $1";
  const described = describeQuery(text);
  assert.deepEqual(described, { operation: "SELECT", collection: "messages" });
  assert.ok(!JSON.stringify(described).includes("4111"));
});

Deno.test("describeQuery: the first FROM after SELECT names the table, joins included", () => {
  assert.deepEqual(
    describeQuery("select m.id from messages m join sources s on s.id = m.source"),
    { operation: "SELECT", collection: "messages" },
  );
  assert.deepEqual(
    describeQuery("select id from messages where id in (select id from archive)"),
    { operation: "SELECT", collection: "messages" },
  );
});

Deno.test({
  name: "describeQuery: FROM inside a function call (extract, substring) is not the table",
  fn: () => {
    assert.deepEqual(
      describeQuery("select extract(epoch from created_at) as at from messages where id = $1"),
      { operation: "SELECT", collection: "messages" },
    );
    assert.deepEqual(
      describeQuery("select substring(content from 1 for 8) from messages"),
      { operation: "SELECT", collection: "messages" },
    );
  },
});
