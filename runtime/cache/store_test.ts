import assert from "node:assert/strict";
import { delay } from "../_test_util.ts";
import { missingRedis, redisUrl, testWhen } from "../_test_needs.ts";
import { RedisConnection, RespError, type RespValue } from "./resp.ts";
import { EmbeddedStore, globToRegExp } from "./store.ts";

const noRedis = missingRedis();

/** Opens a store in a fresh folder, runs `fn`, closes and removes it. */
async function withStore(
  fn: (store: EmbeddedStore, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await EmbeddedStore.open(dir);
  try {
    await fn(store, dir);
  } finally {
    try {
      store.close();
    } catch {
      // closed by the test
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs one command. */
async function run(store: EmbeddedStore, ...command: string[]): Promise<RespValue> {
  const [reply] = await store.execute([command]);
  return reply;
}

/** The message of an error reply; fails when the reply is not an error. */
function errorOf(reply: RespValue): string {
  assert.ok(reply instanceof RespError, `expected an error reply, got ${JSON.stringify(reply)}`);
  return reply.message;
}

async function journalLines(dir: string): Promise<unknown[]> {
  const text = await Deno.readTextFile(`${dir}/journal.jsonl`);
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

Deno.test("EmbeddedStore: GET, SET, MGET, MSET, DEL, UNLINK, EXISTS, GETDEL", async () => {
  await withStore(async (store) => {
    assert.equal(await run(store, "GET", "k"), null);
    assert.equal(await run(store, "SET", "k", "v"), "OK");
    assert.equal(await run(store, "get", "k"), "v", "command names are case-insensitive");
    assert.equal(await run(store, "MSET", "a", "1", "b", "2"), "OK");
    assert.deepEqual(await run(store, "MGET", "a", "missing", "b"), ["1", null, "2"]);
    assert.equal(await run(store, "EXISTS", "a", "a", "missing"), 2);
    assert.equal(await run(store, "DEL", "a", "missing", "a"), 1);
    assert.equal(await run(store, "UNLINK", "b"), 1);
    assert.equal(await run(store, "EXISTS", "a", "b"), 0);
    assert.equal(await run(store, "GETDEL", "k"), "v");
    assert.equal(await run(store, "GETDEL", "k"), null);
    assert.equal(await run(store, "SET", "empty", ""), "OK");
    assert.equal(await run(store, "GET", "empty"), "");
  });
});

Deno.test("EmbeddedStore: PING, ECHO, TYPE, STRLEN, APPEND, DBSIZE", async () => {
  await withStore(async (store) => {
    assert.equal(await run(store, "PING"), "PONG");
    assert.equal(await run(store, "PING", "hello"), "hello");
    assert.equal(await run(store, "ECHO", "x y"), "x y");
    assert.equal(await run(store, "TYPE", "k"), "none");
    assert.equal(await run(store, "APPEND", "k", "abc"), 3);
    assert.equal(await run(store, "APPEND", "k", "de"), 5);
    assert.equal(await run(store, "GET", "k"), "abcde");
    assert.equal(await run(store, "STRLEN", "k"), 5);
    assert.equal(await run(store, "STRLEN", "missing"), 0);
    assert.equal(await run(store, "TYPE", "k"), "string");
    await run(store, "SET", "other", "1");
    assert.equal(await run(store, "DBSIZE"), 2);
  });
});

Deno.test("EmbeddedStore: INCR, DECR, INCRBY, DECRBY keep the TTL", async () => {
  await withStore(async (store) => {
    assert.equal(await run(store, "INCR", "n"), 1);
    assert.equal(await run(store, "INCRBY", "n", "41"), 42);
    assert.equal(await run(store, "DECR", "n"), 41);
    assert.equal(await run(store, "DECRBY", "n", "-9"), 50);
    assert.equal(await run(store, "INCRBY", "n", "-60"), -10);
    assert.equal(await run(store, "GET", "n"), "-10");
    await run(store, "SET", "t", "5", "EX", "100");
    assert.equal(await run(store, "INCR", "t"), 6);
    assert.equal(await run(store, "TTL", "t"), 100);
    await run(store, "SET", "s", "abc");
    assert.equal(
      errorOf(await run(store, "INCR", "s")),
      "ERR value is not an integer or out of range",
    );
    await run(store, "SET", "f", "1.5");
    assert.equal(
      errorOf(await run(store, "INCR", "f")),
      "ERR value is not an integer or out of range",
    );
    assert.equal(
      errorOf(await run(store, "INCRBY", "n", "two")),
      "ERR value is not an integer or out of range",
    );
    assert.equal(await run(store, "GET", "s"), "abc", "a failed INCR changes nothing");
  });
});

Deno.test("EmbeddedStore: SET NX, XX and GET", async () => {
  await withStore(async (store) => {
    assert.equal(await run(store, "SET", "k", "1", "XX"), null, "XX needs the key");
    assert.equal(await run(store, "GET", "k"), null);
    assert.equal(await run(store, "SET", "k", "1", "NX"), "OK");
    assert.equal(await run(store, "SET", "k", "2", "NX"), null, "NX needs no key");
    assert.equal(await run(store, "GET", "k"), "1");
    assert.equal(await run(store, "SET", "k", "3", "XX"), "OK");
    assert.equal(await run(store, "SET", "k", "4", "GET"), "3");
    assert.equal(await run(store, "SET", "new", "x", "GET"), null);
    assert.equal(
      await run(store, "SET", "k", "5", "NX", "GET"),
      "4",
      "NX GET returns the old value",
    );
    assert.equal(await run(store, "GET", "k"), "4");
    assert.equal(await run(store, "SET", "missing", "5", "XX", "GET"), null);
    assert.equal(await run(store, "GET", "missing"), null);
    assert.equal(
      await run(store, "set", "k", "6", "xx", "get"),
      "4",
      "options are case-insensitive",
    );
  });
});

Deno.test("EmbeddedStore: SET EX, PX, EXAT, PXAT and KEEPTTL", async () => {
  await withStore(async (store) => {
    await run(store, "SET", "ex", "v", "EX", "100");
    assert.equal(await run(store, "TTL", "ex"), 100);
    const pttl = await run(store, "PTTL", "ex") as number;
    assert.ok(pttl > 99_000 && pttl <= 100_000, String(pttl));
    await run(store, "SET", "px", "v", "PX", "5000");
    assert.equal(await run(store, "TTL", "px"), 5);
    const at = Math.floor(Date.now() / 1000) + 50;
    await run(store, "SET", "exat", "v", "EXAT", String(at));
    const exat = await run(store, "TTL", "exat") as number;
    assert.ok(exat >= 48 && exat <= 50, String(exat));
    await run(store, "SET", "pxat", "v", "PXAT", String(Date.now() + 20_000));
    assert.equal(await run(store, "TTL", "pxat"), 20);
    // A plain SET clears the TTL; KEEPTTL keeps it.
    await run(store, "SET", "ex", "w", "KEEPTTL");
    assert.equal(await run(store, "TTL", "ex"), 100);
    assert.equal(await run(store, "GET", "ex"), "w");
    await run(store, "SET", "ex", "z");
    assert.equal(await run(store, "TTL", "ex"), -1);
    // EXAT in the past writes nothing that can be read.
    await run(store, "SET", "past", "v", "PXAT", String(Date.now() - 1000));
    assert.equal(await run(store, "GET", "past"), null);
  });
});

Deno.test("EmbeddedStore: keys expire (GET, EXISTS, TTL, DBSIZE, KEYS)", async () => {
  await withStore(async (store) => {
    await run(store, "SET", "short", "v", "PX", "30");
    await run(store, "PSETEX", "short2", "30", "v");
    await run(store, "SET", "long", "v", "EX", "60");
    assert.equal(await run(store, "GET", "short"), "v");
    await delay(45);
    assert.equal(await run(store, "GET", "short"), null);
    assert.equal(await run(store, "EXISTS", "short", "short2"), 0);
    assert.equal(await run(store, "TTL", "short2"), -2);
    assert.equal(await run(store, "PTTL", "short2"), -2);
    assert.deepEqual(await run(store, "KEYS", "*"), ["long"]);
    assert.equal(await run(store, "DBSIZE"), 1);
    assert.equal(await run(store, "TTL", "missing"), -2);
    assert.equal(await run(store, "SET", "short", "again", "NX"), "OK", "an expired key is absent");
  });
});

Deno.test("EmbeddedStore: SETEX, EXPIRE family, PERSIST", async () => {
  await withStore(async (store) => {
    assert.equal(await run(store, "SETEX", "k", "10", "v"), "OK");
    assert.equal(await run(store, "TTL", "k"), 10);
    assert.equal(await run(store, "EXPIRE", "k", "20"), 1);
    assert.equal(await run(store, "TTL", "k"), 20);
    assert.equal(await run(store, "PEXPIRE", "k", "30000"), 1);
    assert.equal(await run(store, "TTL", "k"), 30);
    assert.equal(await run(store, "EXPIREAT", "k", String(Math.floor(Date.now() / 1000) + 40)), 1);
    assert.ok((await run(store, "TTL", "k") as number) >= 39);
    assert.equal(await run(store, "PEXPIREAT", "k", String(Date.now() + 50_000)), 1);
    assert.equal(await run(store, "TTL", "k"), 50);
    assert.equal(await run(store, "PERSIST", "k"), 1);
    assert.equal(await run(store, "TTL", "k"), -1);
    assert.equal(await run(store, "PERSIST", "k"), 0, "no TTL to remove");
    assert.equal(await run(store, "PERSIST", "missing"), 0);
    assert.equal(await run(store, "EXPIRE", "missing", "10"), 0);
    assert.equal(await run(store, "EXPIRE", "k", "0"), 1, "a past expiry deletes");
    assert.equal(await run(store, "EXISTS", "k"), 0);
    await run(store, "SET", "k", "v");
    assert.equal(await run(store, "EXPIRE", "k", "-1"), 1);
    assert.equal(await run(store, "GET", "k"), null);
  });
});

Deno.test("EmbeddedStore: error replies are worded like Redis's", async () => {
  await withStore(async (store) => {
    const cases: Array<[string[], string]> = [
      [["GET"], "ERR wrong number of arguments for 'get' command"],
      [["GET", "a", "b"], "ERR wrong number of arguments for 'get' command"],
      [["SET", "k"], "ERR wrong number of arguments for 'set' command"],
      [["MSET", "a", "1", "b"], "ERR wrong number of arguments for 'mset' command"],
      [["MGET"], "ERR wrong number of arguments for 'mget' command"],
      [["DEL"], "ERR wrong number of arguments for 'del' command"],
      [["PING", "a", "b"], "ERR wrong number of arguments for 'ping' command"],
      [["ECHO"], "ERR wrong number of arguments for 'echo' command"],
      [["INCRBY", "n"], "ERR wrong number of arguments for 'incrby' command"],
      [["expire", "k"], "ERR wrong number of arguments for 'expire' command"],
      [["SETEX", "k", "10"], "ERR wrong number of arguments for 'setex' command"],
      [["SET", "k", "v", "NX", "XX"], "ERR syntax error"],
      [["SET", "k", "v", "EX"], "ERR syntax error"],
      [["SET", "k", "v", "EX", "10", "PX", "100"], "ERR syntax error"],
      [["SET", "k", "v", "KEEPTTL", "EX", "10"], "ERR syntax error"],
      [["SET", "k", "v", "EX", "10", "KEEPTTL"], "ERR syntax error"],
      [["SET", "k", "v", "BOGUS"], "ERR syntax error"],
      [["SET", "k", "v", "EX", "ten"], "ERR value is not an integer or out of range"],
      [["SET", "k", "v", "EX", "0"], "ERR invalid expire time in 'set' command"],
      [["SET", "k", "v", "PX", "-5"], "ERR invalid expire time in 'set' command"],
      [["SETEX", "k", "0", "v"], "ERR invalid expire time in 'setex' command"],
      [["PSETEX", "k", "-1", "v"], "ERR invalid expire time in 'psetex' command"],
      [["EXPIRE", "k", "soon"], "ERR value is not an integer or out of range"],
      [["SCAN", "x"], "ERR invalid cursor"],
      [["SCAN", "0", "COUNT", "0"], "ERR syntax error"],
      [["SCAN", "0", "MATCH"], "ERR syntax error"],
      [["NOPE", "a", "b"], "ERR unknown command 'NOPE', with args beginning with: 'a' 'b'"],
    ];
    for (const [command, message] of cases) {
      assert.equal(errorOf(await run(store, ...command)), message, JSON.stringify(command));
    }
    assert.equal(await run(store, "EXISTS", "k"), 0, "failed commands write nothing");
  });
});

Deno.test("EmbeddedStore: a pipeline runs in order and fails per command, not as a whole", async () => {
  await withStore(async (store) => {
    const replies = await store.execute([
      ["SET", "k", "1"],
      ["INCR", "k"],
      ["BOGUS"],
      ["GET", "k"],
    ]);
    assert.equal(replies[0], "OK");
    assert.equal(replies[1], 2);
    assert.ok(replies[2] instanceof RespError);
    assert.equal(replies[3], "2");
  });
});

Deno.test("EmbeddedStore: KEYS and SCAN with Redis glob patterns", async () => {
  await withStore(async (store) => {
    const keys = ["message:1", "message:22", "message:a", "other", "a.b", "axb", "star*"];
    for (const key of keys) await run(store, "SET", key, "v");
    const sorted = (reply: RespValue) => [...reply as string[]].sort();
    assert.deepEqual(sorted(await run(store, "KEYS", "*")), [...keys].sort());
    assert.deepEqual(sorted(await run(store, "KEYS", "message:*")), [
      "message:1",
      "message:22",
      "message:a",
    ]);
    assert.deepEqual(sorted(await run(store, "KEYS", "message:?")), ["message:1", "message:a"]);
    assert.deepEqual(sorted(await run(store, "KEYS", "message:[0-9]*")), [
      "message:1",
      "message:22",
    ]);
    assert.deepEqual(sorted(await run(store, "KEYS", "message:[^0-9]")), ["message:a"]);
    assert.deepEqual(await run(store, "KEYS", "a.b"), ["a.b"], "a dot is literal");
    assert.deepEqual(await run(store, "KEYS", "star\\*"), ["star*"]);

    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const [next, page] = await run(store, "SCAN", cursor, "COUNT", "3") as [string, string[]];
      assert.ok(page.length <= 3);
      seen.push(...page);
      cursor = next;
      calls++;
    } while (cursor !== "0");
    assert.equal(calls, 3);
    assert.deepEqual(seen.sort(), [...keys].sort());
    const [end, matched] = await run(store, "SCAN", "0", "MATCH", "message:*", "COUNT", "100") as [
      string,
      string[],
    ];
    assert.equal(end, "0");
    assert.deepEqual(matched.sort(), ["message:1", "message:22", "message:a"]);
  });
});

Deno.test("globToRegExp: Redis glob semantics", () => {
  const matches = (glob: string, key: string) => globToRegExp(glob).test(key);
  assert.ok(matches("*", ""));
  assert.ok(matches("h?llo", "hello"));
  assert.ok(!matches("h?llo", "heello"));
  assert.ok(matches("h*llo", "heeeello"));
  assert.ok(matches("h[ae]llo", "hallo"));
  assert.ok(!matches("h[ae]llo", "hillo"));
  assert.ok(matches("h[^e]llo", "hallo"));
  assert.ok(!matches("h[^e]llo", "hello"));
  assert.ok(matches("h[a-b]llo", "hbllo"));
  assert.ok(matches("h\\?llo", "h?llo"));
  assert.ok(!matches("h\\?llo", "hello"));
  assert.ok(matches("a[b", "a[b"), "an unclosed bracket is literal");
  assert.ok(matches("(x)+$", "(x)+$"), "regex characters are literal");
  assert.ok(matches("line*", "line\nbreak"), "* crosses newlines");
});

Deno.test("EmbeddedStore: every write is in the journal before execute resolves", async () => {
  await withStore(async (store, dir) => {
    await store.execute([["SET", "a", "1", "PX", "60000"], ["DEL", "missing"], ["GET", "a"]]);
    const lines = await journalLines(dir);
    assert.equal(lines.length, 1, "reads and no-op deletes are not journaled");
    const [line] = lines as [string, string, string, number][];
    assert.deepEqual(line.slice(0, 3), ["s", "a", "1"]);
    assert.ok(line[3] > Date.now() + 59_000);
    await run(store, "DEL", "a");
    await run(store, "FLUSHDB");
    assert.deepEqual((await journalLines(dir)).slice(1), [["d", "a"], ["f"]]);
  });
});

Deno.test("EmbeddedStore: a reopened store replays its journal", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await EmbeddedStore.open(dir);
    await first.execute([
      ["SET", "keep", "1"],
      ["SET", "ttl", "2", "EX", "100"],
      ["SET", "gone", "3"],
      ["DEL", "gone"],
      ["INCR", "n"],
      ["INCR", "n"],
      ["APPEND", "s", "ab"],
      ["SET", "short", "x", "PX", "20"],
    ]);
    first.close(); // as after a SIGKILL: nothing but the journal survives
    await delay(30);
    const second = await EmbeddedStore.open(dir);
    try {
      assert.deepEqual(
        await second.execute([
          ["GET", "keep"],
          ["GET", "gone"],
          ["GET", "n"],
          ["GET", "s"],
          ["TTL", "ttl"],
          ["GET", "short"],
        ]),
        ["1", null, "2", "ab", 100, null],
      );
      // Compaction: one line per live key; deleted, expired and overwritten values are gone.
      const lines = await journalLines(dir) as Array<[string, string]>;
      assert.deepEqual(lines.map((line) => line[1]).sort(), ["keep", "n", "s", "ttl"]);
      assert.ok(lines.every((line) => line[0] === "s"));
    } finally {
      second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmbeddedStore: FLUSHDB survives a reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await EmbeddedStore.open(dir);
    await first.execute([["SET", "a", "1"], ["FLUSHALL"], ["SET", "b", "2"]]);
    first.close();
    const second = await EmbeddedStore.open(dir);
    try {
      assert.deepEqual(await second.execute([["GET", "a"], ["GET", "b"]]), [null, "2"]);
    } finally {
      second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmbeddedStore: a last line cut short by a crash is skipped, later writes are kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await EmbeddedStore.open(dir);
    await first.execute([["SET", "a", "1"], ["SET", "b", "2"]]);
    first.close();
    await Deno.writeTextFile(`${dir}/journal.jsonl`, '["s","c","3",nu', { append: true });
    const second = await EmbeddedStore.open(dir);
    try {
      assert.deepEqual(await second.execute([["GET", "a"], ["GET", "b"], ["GET", "c"]]), [
        "1",
        "2",
        null,
      ]);
      await second.execute([["SET", "d", "4"]]);
    } finally {
      second.close();
    }
    // The write after the damaged line is not glued to it.
    const third = await EmbeddedStore.open(dir);
    try {
      assert.deepEqual(await third.execute([["GET", "a"], ["GET", "d"]]), ["1", "4"]);
    } finally {
      third.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmbeddedStore: many overwrites compact to one line on reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await EmbeddedStore.open(dir);
    for (let i = 0; i < 200; i++) await first.execute([["SET", "hot", String(i)]]);
    first.close();
    assert.equal((await journalLines(dir)).length, 200);
    const second = await EmbeddedStore.open(dir);
    try {
      assert.deepEqual(await journalLines(dir), [["s", "hot", "199", null]]);
      assert.equal(await run(second, "GET", "hot"), "199");
    } finally {
      second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "EmbeddedStore: STRLEN and APPEND count bytes like Redis, not UTF-16 units",
  fn: async () => {
    await withStore(async (store) => {
      assert.equal(await run(store, "APPEND", "k", "héllo"), 6);
      assert.equal(await run(store, "STRLEN", "k"), 6);
      await run(store, "SET", "emoji", "😀");
      assert.equal(await run(store, "STRLEN", "emoji"), 4);
    });
  },
});

Deno.test({
  name: "EmbeddedStore: SETEX with a non-integer time is 'value is not an integer' like Redis",
  fn: async () => {
    await withStore(async (store) => {
      assert.equal(
        errorOf(await run(store, "SETEX", "k", "ten", "v")),
        "ERR value is not an integer or out of range",
      );
    });
  },
});

Deno.test({
  name: "EmbeddedStore: INCR works on any 64-bit integer, not only up to 15 digits",
  fn: async () => {
    await withStore(async (store) => {
      await run(store, "SET", "n", "1234567890123456"); // 16 digits: a valid Redis integer
      assert.equal(await run(store, "INCR", "n"), 1234567890123457);
      assert.equal(await run(store, "GET", "n"), "1234567890123457");
      await run(store, "SET", "max", "9223372036854775807");
      assert.equal(
        errorOf(await run(store, "INCR", "max")),
        "ERR increment or decrement would overflow",
      );
    });
  },
});

Deno.test({
  name: "EmbeddedStore: SCAN returns every key present for the whole iteration, despite deletes",
  fn: async () => {
    await withStore(async (store) => {
      for (const key of ["a", "b", "c", "d", "e", "f"]) await run(store, "SET", key, "v");
      const [cursor, first] = await run(store, "SCAN", "0", "COUNT", "2") as [string, string[]];
      assert.deepEqual(first, ["a", "b"]);
      await run(store, "DEL", "a"); // a key already returned goes away mid-iteration
      const seen = [...first];
      let next = cursor;
      while (next !== "0") {
        const [after, page] = await run(store, "SCAN", next, "COUNT", "2") as [string, string[]];
        seen.push(...page);
        next = after;
      }
      for (const key of ["c", "d", "e", "f"]) assert.ok(seen.includes(key), `SCAN skipped ${key}`);
    });
  },
});

testWhen(noRedis, {
  name: "EmbeddedStore: answers like a real Redis, command by command",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const prefix = `unit:${crypto.randomUUID().slice(0, 8)}:`;
    const k = (name: string) => prefix + name;
    const commands: string[][] = [
      ["GET", k("a")],
      ["SET", k("a"), "v1"],
      ["SET", k("a"), "v2", "NX"],
      ["SET", k("a"), "v3", "NX", "GET"],
      ["SET", k("b"), "v", "XX"],
      ["SET", k("a"), "v4", "GET"],
      ["SET", k("a"), "v5", "XX", "GET", "EX", "100"],
      ["SET", k("a"), "v6", "KEEPTTL"],
      ["TTL", k("a")],
      ["SET", k("a"), "v7"],
      ["TTL", k("a")],
      ["TTL", k("none")],
      ["PTTL", k("none")],
      ["SETEX", k("s"), "100", "v"],
      ["PERSIST", k("s")],
      ["PERSIST", k("s")],
      ["EXPIRE", k("none"), "10"],
      ["EXPIRE", k("s"), "-1"],
      ["EXISTS", k("s")],
      ["INCR", k("n")],
      ["INCRBY", k("n"), "10"],
      ["DECR", k("n")],
      ["DECRBY", k("n"), "5"],
      ["INCR", k("a")],
      ["APPEND", k("ap"), "hello"],
      ["STRLEN", k("ap")],
      ["TYPE", k("ap")],
      ["TYPE", k("none")],
      ["MSET", k("m1"), "1", k("m2"), "2"],
      ["MGET", k("m1"), k("m2"), k("none")],
      ["GETDEL", k("m1")],
      ["GETDEL", k("m1")],
      ["DEL", k("m2"), k("none"), k("m2")],
      ["SET", k("z"), "1", "EXAT", "1"],
      ["GET", k("z")],
      ["SET", k("w"), "1"],
      ["PEXPIRE", k("w"), "0"],
      ["EXISTS", k("w")],
      ["PING"],
      ["PING", "hi"],
      ["ECHO", "x"],
      // errors
      ["GET"],
      ["SET", k("a")],
      ["SET", k("a"), "1", "EX"],
      ["SET", k("a"), "1", "EX", "0"],
      ["SET", k("a"), "1", "EX", "abc"],
      ["SET", k("a"), "1", "NX", "XX"],
      ["SET", k("a"), "1", "EX", "10", "PX", "100"],
      ["SET", k("a"), "1", "KEEPTTL", "EX", "10"],
      ["SET", k("a"), "1", "FOO"],
      ["SETEX", k("s"), "0", "v"],
      ["PSETEX", k("s"), "-1", "v"],
      ["EXPIRE", k("s"), "x"],
      ["INCRBY", k("n"), "x"],
      ["MSET", k("m1"), "1", k("m2")],
      ["MGET"],
      ["PING", "a", "b"],
      ["SCAN", "x"],
    ];
    const describe = (reply: RespValue): unknown =>
      reply instanceof RespError
        ? { error: reply.message }
        : Array.isArray(reply)
        ? reply.map(describe)
        : reply;
    const dir = await Deno.makeTempDir();
    const store = await EmbeddedStore.open(dir);
    const redis = new RedisConnection(redisUrl()!);
    try {
      for (const command of commands) {
        const [ours] = await store.execute([command]);
        const [theirs] = await redis.send([command]);
        assert.deepEqual(
          describe(ours),
          describe(theirs),
          `${JSON.stringify(command).replaceAll(prefix, "")} answered differently`,
        );
      }
    } finally {
      const [keys] = await redis.send([["KEYS", `${prefix}*`]]);
      if (Array.isArray(keys) && keys.length > 0) await redis.send([["DEL", ...keys as string[]]]);
      redis.close();
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
