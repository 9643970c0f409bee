import assert from "node:assert/strict";
import { delay } from "../../testing/wait.ts";
import { missingRedis, redisUrl, testWhen } from "../_test_needs.ts";
import type { Backend, Command, Outcome } from "./bridge.ts";
import { redisBackend } from "./redis.ts";
import { openEmbeddedStore } from "./store.ts";

/** Opens a store in a fresh folder, runs `fn`, closes and removes it. */
async function withStore(fn: (store: Backend, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await openEmbeddedStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

const run = async (store: Backend, ...command: string[]) => (await store.execute([command]))[0];

async function journalLines(dir: string): Promise<unknown[][]> {
  const text = await Deno.readTextFile(`${dir}/journal.jsonl`);
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

Deno.test("EmbeddedStore: PING, GET and SET, names in any case", async () => {
  await withStore(async (store) => {
    assert.deepEqual(await run(store, "PING"), { result: "PONG" });
    assert.deepEqual(await run(store, "ping", "hello"), { result: "hello" });
    assert.deepEqual(await run(store, "GET", "k"), { result: null });
    assert.deepEqual(await run(store, "SET", "k", "héllo"), { result: "OK" });
    assert.deepEqual(await run(store, "get", "k"), { result: "héllo" });
    assert.deepEqual(await run(store, "SET", "empty", ""), { result: "OK" });
    assert.deepEqual(await run(store, "GET", "empty"), { result: "" });
  });
});

Deno.test("EmbeddedStore: SET EX expires the key; a plain SET clears the expiry", async () => {
  await withStore(async (store, dir) => {
    await run(store, "SET", "day", "v", "EX", "86400");
    await run(store, "SET", "short", "v", "ex", "1");
    await run(store, "SET", "plain", "v", "EX", "1");
    await run(store, "SET", "plain", "w");
    const expiries = Object.fromEntries(
      (await journalLines(dir)).map((line) => [line[1], line[3]]),
    );
    const left = (expiries.day as number) - Date.now();
    assert.ok(left > 86_398_000 && left <= 86_400_000, `day expires in ${left} ms`);
    assert.equal(expiries.plain, null);
    await delay(1050);
    assert.deepEqual(await run(store, "GET", "short"), { result: null });
    assert.deepEqual(await run(store, "GET", "day"), { result: "v" });
    assert.deepEqual(await run(store, "GET", "plain"), { result: "w" });
  });
});

Deno.test("EmbeddedStore: a pipeline runs in order and fails per command", async () => {
  await withStore(async (store) => {
    const outcomes = await store.execute([["SET", "k", "1"], ["SET", "k"], ["GET", "k"], ["DEL"]]);
    assert.deepEqual(outcomes, [
      { result: "OK" },
      { error: "ERR wrong number of arguments for 'set' command" },
      { result: "1" },
      { error: "ERR unknown command 'DEL', with args beginning with: " },
    ]);
  });
});

Deno.test("EmbeddedStore: a reopened store has every write, expired keys dropped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openEmbeddedStore(dir);
    await first.execute([["SET", "a", "1"], ["SET", "b", "2", "EX", "1"], ["SET", "a", "3"]]);
    // No close: a SIGKILLed host leaves the journal as it is.
    const second = await openEmbeddedStore(dir);
    assert.deepEqual(await second.execute([["GET", "a"], ["GET", "b"]]), [
      { result: "3" },
      { result: "2" },
    ]);
    await second.close();
    await delay(1050);
    const third = await openEmbeddedStore(dir);
    assert.deepEqual(await journalLines(dir), [["s", "a", "3", null]], "compacted on open");
    assert.deepEqual(await third.execute([["GET", "b"]]), [{ result: null }]);
    await Promise.all([first.close(), third.close()]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmbeddedStore: a last line cut short by a crash is skipped, later writes kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/journal.jsonl`, '["s","a","1",null]\n["s","b","2",nu');
    const store = await openEmbeddedStore(dir);
    await store.execute([["SET", "c", "3"]]);
    await store.close();
    const reopened = await openEmbeddedStore(dir);
    assert.deepEqual(await reopened.execute([["GET", "a"], ["GET", "b"], ["GET", "c"]]), [
      { result: "1" },
      { result: null },
      { result: "3" },
    ]);
    await reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmbeddedStore: the journal is compacted while running, not only at restart", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openEmbeddedStore(dir, 100);
  try {
    for (let i = 0; i < 1000; i++) await store.execute([["SET", `hot${i % 3}`, String(i)]]);
    const lines = await journalLines(dir);
    assert.ok(lines.length <= 100, `the journal holds ${lines.length} lines for 3 keys`);
    assert.deepEqual(await store.execute([["GET", "hot0"], ["GET", "hot1"], ["GET", "hot2"]]), [
      { result: "999" },
      { result: "997" },
      { result: "998" },
    ]);
    await store.close();
    const reopened = await openEmbeddedStore(dir);
    assert.deepEqual(await reopened.execute([["GET", "hot0"]]), [{ result: "999" }]);
    await reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Everything the store answers, right and wrong, as a real Redis would. */
const PARITY: readonly Command[] = [
  ["PING"],
  ["PING", "hi"],
  ["GET", "a"],
  ["SET", "a", "v1"],
  ["GET", "a"],
  ["SET", "a", "v2", "EX", "100"],
  ["SET", "a", "v3", "ex", "1"],
  ["GET", "a"],
  ["PING", "a", "b"],
  ["GET"],
  ["GET", "a", "b"],
  ["SET", "a"],
  ["SET", "a", "1", "EX"],
  ["SET", "a", "1", "EX", "0"],
  ["SET", "a", "1", "EX", "-5"],
  ["SET", "a", "1", "EX", "abc"],
  ["SET", "a", "1", "EX", "1.5"],
  ["NOPE", "x"],
];

testWhen(missingRedis(), {
  name: "EmbeddedStore: answers like a real Redis",
  fn: async () => {
    const prefix = `unit:${crypto.randomUUID()}:`;
    const keyed = (command: Command) =>
      command.length > 1 && /^(GET|SET)$/i.test(command[0])
        ? [command[0], prefix + command[1], ...command.slice(2)]
        : command;
    const redis = redisBackend(redisUrl()!);
    const unprefixed = (outcome: Outcome) =>
      JSON.parse(JSON.stringify(outcome).replaceAll(prefix, ""));
    try {
      await withStore(async (store) => {
        for (const command of PARITY) {
          const [ours] = await store.execute([command]);
          const [theirs] = await redis.execute([keyed(command)]);
          assert.deepEqual(
            ours,
            unprefixed(theirs),
            `${JSON.stringify(command)} answered differently`,
          );
        }
      });
    } finally {
      await redis.execute([["DEL", `${prefix}a`]]);
      await redis.close();
    }
  },
});
