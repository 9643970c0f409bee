import assert from "node:assert/strict";
import { delay, freePort, waitFor } from "../_test_util.ts";
import { missingRedis, redisUrl, testWhen } from "../_test_needs.ts";
import {
  encodeCommands,
  parseReply,
  RedisConnection,
  RedisConnectionError,
  RespError,
  type RespValue,
} from "./resp.ts";

const noRedis = missingRedis();

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

Deno.test("encodeCommands: RESP arrays of bulk strings, lengths in bytes", () => {
  assert.equal(
    text(encodeCommands([["SET", "k", "v"]])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
  );
  assert.equal(
    text(encodeCommands([["PING"], ["GET", "é"]])),
    "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$2\r\né\r\n",
  );
  assert.equal(
    text(encodeCommands([["SET", "k", ""]])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
  );
  assert.equal(
    text(encodeCommands([["SET", "k", "a\r\nb"]])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n",
  );
  assert.equal(encodeCommands([]).length, 0);
});

Deno.test("parseReply: each reply type", () => {
  const parse = (raw: string) => parseReply(bytes(raw), 0);
  assert.deepEqual(parse("+OK\r\n"), { value: "OK", next: 5 });
  assert.deepEqual(parse(":42\r\n"), { value: 42, next: 5 });
  assert.deepEqual(parse(":-7\r\n"), { value: -7, next: 5 });
  assert.deepEqual(parse("$5\r\nhello\r\n"), { value: "hello", next: 11 });
  assert.deepEqual(parse("$0\r\n\r\n"), { value: "", next: 6 });
  assert.deepEqual(parse("$-1\r\n"), { value: null, next: 5 });
  assert.deepEqual(parse("*-1\r\n"), { value: null, next: 5 });
  assert.deepEqual(parse("*0\r\n"), { value: [], next: 4 });
  const error = parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  assert.ok(error?.value instanceof RespError);
  assert.equal(
    (error.value as RespError).message,
    "WRONGTYPE Operation against a key holding the wrong kind of value",
  );
});

Deno.test("parseReply: bulk strings may hold CRLF and multi-byte characters", () => {
  assert.deepEqual(parseReply(bytes("$4\r\na\r\nb\r\n"), 0), { value: "a\r\nb", next: 10 });
  const utf8 = bytes("$6\r\nhéllo\r\n");
  assert.deepEqual(parseReply(utf8, 0), { value: "héllo", next: utf8.length });
});

Deno.test("parseReply: nested arrays with nil, errors and integers", () => {
  const raw = "*4\r\n*2\r\n$1\r\na\r\n:1\r\n$-1\r\n-ERR no\r\n*1\r\n*0\r\n";
  const parsed = parseReply(bytes(raw), 0);
  assert.ok(parsed);
  assert.equal(parsed.next, bytes(raw).length);
  const [first, nil, error, deep] = parsed.value as RespValue[];
  assert.deepEqual(first, ["a", 1]);
  assert.equal(nil, null);
  assert.ok(error instanceof RespError);
  assert.equal(error.message, "ERR no");
  assert.deepEqual(deep, [[]]);
});

Deno.test("parseReply: a partial buffer is undefined at every cut, whole at the end", () => {
  const raw = bytes("*3\r\n$5\r\nhello\r\n:12\r\n*2\r\n+OK\r\n$-1\r\n");
  for (let cut = 0; cut < raw.length; cut++) {
    assert.equal(parseReply(raw.subarray(0, cut), 0), undefined, `cut at ${cut}`);
  }
  assert.deepEqual(parseReply(raw, 0), { value: ["hello", 12, ["OK", null]], next: raw.length });
});

Deno.test("parseReply: successive replies are read from the offset", () => {
  const raw = bytes("+OK\r\n:1\r\n$3\r\nabc\r\n");
  const values: RespValue[] = [];
  let offset = 0;
  for (;;) {
    const parsed = parseReply(raw, offset);
    if (parsed === undefined) break;
    values.push(parsed.value);
    offset = parsed.next;
  }
  assert.deepEqual(values, ["OK", 1, "abc"]);
  assert.equal(offset, raw.length);
});

Deno.test("parseReply: an unknown reply type is a connection error", () => {
  assert.throws(() => parseReply(bytes("!oops\r\n"), 0), RedisConnectionError);
});

/**
 * A fake RESP server: `answer(command, connection index)` gives the raw reply, "hang" for none,
 * "close" to drop the connection unanswered, or `{ reply, close: true }` to answer, then drop.
 */
function fakeRedis(
  answer: (
    command: string[],
    connection: number,
  ) => string | "close" | "hang" | { reply: string; close: true },
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const commands: Array<[number, string[]]> = [];
  const sockets = new Set<Deno.Conn>();
  let connections = 0;
  const serve = async (socket: Deno.Conn, index: number) => {
    let buffer = new Uint8Array(0);
    try {
      for await (const chunk of socket.readable) {
        const joined = new Uint8Array(buffer.length + chunk.length);
        joined.set(buffer);
        joined.set(chunk, buffer.length);
        buffer = joined;
        for (;;) {
          const parsed = parseReply(buffer, 0);
          if (parsed === undefined) break;
          buffer = buffer.subarray(parsed.next);
          const command = parsed.value as string[];
          commands.push([index, command]);
          const reply = answer(command, index);
          if (reply === "close") {
            socket.close();
            return;
          }
          if (typeof reply === "object") {
            await socket.write(bytes(reply.reply));
            socket.close();
            return;
          }
          if (reply !== "hang") await socket.write(bytes(reply));
        }
      }
    } catch {
      // the client went away
    } finally {
      sockets.delete(socket);
    }
  };
  (async () => {
    try {
      for await (const socket of listener) {
        sockets.add(socket);
        serve(socket, connections++);
      }
    } catch {
      // closed
    }
  })();
  return {
    url: `redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    commands,
    connections: () => connections,
    close() {
      listener.close();
      for (const socket of sockets) {
        try {
          socket.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

const fakeTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

fakeTest(
  "RedisConnection: pipelines commands in one write and matches replies in order",
  async () => {
    const server = fakeRedis((command) =>
      command[0] === "ECHO" ? `$${bytes(command[1]).length}\r\n${command[1]}\r\n` : ":7\r\n"
    );
    const redis = new RedisConnection(server.url);
    try {
      assert.deepEqual(await redis.send([["ECHO", "a"], ["INCR", "n"], ["ECHO", "ü"]]), [
        "a",
        7,
        "ü",
      ]);
      const many = await Promise.all(
        Array.from({ length: 30 }, (_, i) => redis.send([["ECHO", `m${i}`]])),
      );
      assert.deepEqual(many.flat(), Array.from({ length: 30 }, (_, i) => `m${i}`));
      assert.equal(server.connections(), 1, "one connection for everything");
    } finally {
      redis.close();
      server.close();
    }
  },
);

fakeTest("RedisConnection: a reply arriving in pieces is assembled", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const socket = await listener.accept();
    const reader = socket.readable.getReader();
    await reader.read();
    const reply = bytes("*2\r\n$11\r\nhello world\r\n:99\r\n");
    for (let i = 0; i < reply.length; i += 3) {
      await socket.write(reply.subarray(i, i + 3));
      await delay(1);
    }
    reader.releaseLock();
    return socket;
  })();
  const redis = new RedisConnection(`redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  try {
    assert.deepEqual(await redis.send([["X"]]), [["hello world", 99]]);
  } finally {
    redis.close();
    (await serving).close();
    listener.close();
  }
});

fakeTest("RedisConnection: reconnects on the next command after the server closed", async () => {
  // Each connection answers one command, then the server closes it (an idle timeout, a restart).
  const server = fakeRedis((_command, connection) => ({
    reply: `:${connection}\r\n`,
    close: true,
  }));
  const redis = new RedisConnection(server.url);
  try {
    assert.deepEqual(await redis.send([["PING"]]), [0]);
    await delay(20); // the client notices the close
    assert.deepEqual(await redis.send([["PING"]]), [1]);
    await delay(20);
    assert.deepEqual(await redis.send([["PING"]]), [2]);
    assert.equal(server.connections(), 3);
  } finally {
    redis.close();
    server.close();
  }
});

fakeTest("RedisConnection: with the server gone, commands fail instead of hanging", async () => {
  const server = fakeRedis(() => "+PONG\r\n");
  const redis = new RedisConnection(server.url);
  try {
    assert.deepEqual(await redis.send([["PING"]]), ["PONG"]);
    server.close(); // drops the open connection and stops listening
    await delay(20);
    await assert.rejects(redis.send([["PING"]]), RedisConnectionError);
    await assert.rejects(redis.send([["PING"]]), RedisConnectionError);
  } finally {
    redis.close();
  }
});

fakeTest(
  "RedisConnection: a command in flight when the server closes fails; the next reconnects",
  async () => {
    const server = fakeRedis((_command, connection) => connection === 0 ? "close" : "+OK\r\n");
    const redis = new RedisConnection(server.url);
    try {
      await assert.rejects(redis.send([["SET", "k", "v"]]), (error) => {
        assert.ok(error instanceof RedisConnectionError);
        assert.equal(error.message, "redis closed the connection");
        return true;
      });
      assert.deepEqual(await redis.send([["SET", "k", "v"]]), ["OK"]);
      assert.equal(server.connections(), 2);
    } finally {
      redis.close();
      server.close();
    }
  },
);

fakeTest(
  "RedisConnection: a command without an answer times out; the next reconnects",
  async () => {
    const server = fakeRedis((_command, connection) => connection === 0 ? "hang" : "+PONG\r\n");
    const redis = new RedisConnection(server.url, { commandTimeoutMs: 100 });
    try {
      const started = performance.now();
      await assert.rejects(redis.send([["PING"]]), (error) => {
        assert.ok(error instanceof RedisConnectionError);
        assert.equal(error.message, "redis did not answer in time");
        return true;
      });
      assert.ok(performance.now() - started < 1000);
      assert.deepEqual(await redis.send([["PING"]]), ["PONG"]);
    } finally {
      redis.close();
      server.close();
    }
  },
);

fakeTest("RedisConnection: AUTH and SELECT from the URL run first on each connection", async () => {
  const server = fakeRedis((command) => command[0] === "GET" ? "$1\r\nv\r\n" : "+OK\r\n");
  const port = new URL(server.url).port;
  const redis = new RedisConnection(`redis://app%20user:p%40ss@127.0.0.1:${port}/3`);
  try {
    assert.deepEqual(await redis.send([["GET", "k"]]), ["v"]);
    assert.deepEqual(server.commands.map(([, command]) => command), [
      ["AUTH", "app user", "p@ss"],
      ["SELECT", "3"],
      ["GET", "k"],
    ]);
  } finally {
    redis.close();
    server.close();
  }
  const passwordOnly = fakeRedis(() => "+OK\r\n");
  const plain = new RedisConnection(
    `redis://:secret@127.0.0.1:${new URL(passwordOnly.url).port}/0`,
  );
  try {
    await plain.send([["PING"]]);
    assert.deepEqual(passwordOnly.commands.map(([, command]) => command), [
      ["AUTH", "secret"],
      ["PING"],
    ]);
  } finally {
    plain.close();
    passwordOnly.close();
  }
});

fakeTest("RedisConnection: a refused AUTH is a connection error naming Redis's reply", async () => {
  const server = fakeRedis((command) =>
    command[0] === "AUTH" ? "-WRONGPASS invalid username-password pair\r\n" : "+OK\r\n"
  );
  const redis = new RedisConnection(`redis://:bad@127.0.0.1:${new URL(server.url).port}`);
  try {
    await assert.rejects(redis.send([["PING"]]), (error) => {
      assert.ok(error instanceof RedisConnectionError);
      assert.equal(error.message, "redis refused setup: WRONGPASS invalid username-password pair");
      return true;
    });
    assert.ok(!server.commands.some(([, command]) => command[0] === "PING"));
  } finally {
    redis.close();
    server.close();
  }
});

fakeTest("RedisConnection: an unreachable server is a RedisConnectionError", async () => {
  const port = freePort();
  const redis = new RedisConnection(`redis://127.0.0.1:${port}`);
  try {
    await assert.rejects(redis.send([["PING"]]), (error) => {
      assert.ok(error instanceof RedisConnectionError);
      assert.equal(error.message, `cannot connect to 127.0.0.1:${port}`);
      assert.ok(error.cause instanceof Deno.errors.ConnectionRefused);
      return true;
    });
    // And it tries again on the next command rather than caching the failure.
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    const accepted = listener.accept().then(async (socket) => {
      await socket.readable.getReader().read();
      await socket.write(bytes("+PONG\r\n"));
      return socket;
    });
    assert.deepEqual(await redis.send([["PING"]]), ["PONG"]);
    redis.close();
    (await accepted).close();
    listener.close();
  } finally {
    redis.close();
  }
});

fakeTest("RedisConnection: close fails the commands waiting for replies", async () => {
  const server = fakeRedis(() => "hang");
  const redis = new RedisConnection(server.url);
  try {
    const pending = redis.send([["BLPOP", "q", "0"]]);
    await waitFor("the command to arrive", () => server.commands.length === 1);
    redis.close();
    await assert.rejects(pending, RedisConnectionError);
  } finally {
    server.close();
  }
});

Deno.test({
  name: "RedisConnection: a server that accepts but never answers AUTH does not hang send",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = fakeRedis(() => "hang");
    const port = new URL(server.url).port;
    const redis = new RedisConnection(`redis://:secret@127.0.0.1:${port}`, {
      connectTimeoutMs: 200,
      commandTimeoutMs: 200,
    });
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      const outcome = await Promise.race([
        redis.send([["PING"]]).then(() => "answered", () => "failed"),
        new Promise<string>((resolve) => guard = setTimeout(() => resolve("hung"), 2000)),
      ]);
      assert.equal(outcome, "failed", "send neither answered nor failed within 2 s");
    } finally {
      clearTimeout(guard);
      redis.close();
      server.close();
    }
  },
});

Deno.test({
  name:
    "RedisConnection: a connection failing while a large command is written rejects cleanly (no unhandled rejection)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // The server reads nothing, so a large write stalls; the command deadline then fails it.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const redis = new RedisConnection(
      `redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
      { commandTimeoutMs: 200 },
    );
    try {
      await assert.rejects(
        redis.send([["SET", "big", "x".repeat(64 * 1024 * 1024)]]),
        RedisConnectionError,
      );
      await delay(50); // an unhandled rejection of the queued replies would surface here
    } finally {
      redis.close();
      (await accepted).close();
      listener.close();
    }
  },
});

const realTest = (name: string, fn: (redis: RedisConnection, prefix: string) => Promise<void>) =>
  testWhen(noRedis, {
    name: `RedisConnection (real Redis): ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const redis = new RedisConnection(redisUrl()!);
      const prefix = `unit:${crypto.randomUUID()}:`;
      try {
        await fn(redis, prefix);
      } finally {
        const [keys] = await redis.send([["KEYS", `${prefix}*`]]);
        if (Array.isArray(keys) && keys.length > 0) {
          await redis.send([["DEL", ...keys as string[]]]);
        }
        redis.close();
      }
    },
  });

realTest("PING, SET, GET, nil and error replies", async (redis, prefix) => {
  const key = `${prefix}k`;
  const replies = await redis.send([
    ["PING"],
    ["SET", key, "héllo"],
    ["GET", key],
    ["GET", `${prefix}missing`],
    ["INCR", key],
    ["MGET", key, `${prefix}missing`],
  ]);
  assert.equal(replies[0], "PONG");
  assert.equal(replies[1], "OK");
  assert.equal(replies[2], "héllo");
  assert.equal(replies[3], null);
  assert.ok(replies[4] instanceof RespError);
  assert.equal((replies[4] as RespError).message, "ERR value is not an integer or out of range");
  assert.deepEqual(replies[5], ["héllo", null]);
});

realTest("concurrent senders get their own replies, in order", async (redis, prefix) => {
  const key = `${prefix}counter`;
  const replies = await Promise.all(
    Array.from({ length: 100 }, () => redis.send([["INCR", key]])),
  );
  assert.deepEqual(replies.flat(), Array.from({ length: 100 }, (_, i) => i + 1));
});

realTest("a 2 MB value round-trips across many reads", async (redis, prefix) => {
  const value = "0123456789abcdef".repeat(128 * 1024);
  const [ok, back] = await redis.send([["SET", `${prefix}big`, value], ["GET", `${prefix}big`]]);
  assert.equal(ok, "OK");
  assert.equal(back, value);
});

realTest("SELECT from the URL path picks the database", async (redis, prefix) => {
  const key = `${prefix}db`;
  const url = new URL(redisUrl()!);
  url.pathname = Number(url.pathname.slice(1) || 0) === 1 ? "/2" : "/1";
  const db1 = new RedisConnection(url.href);
  try {
    await db1.send([["SET", key, "in db 1"]]);
    assert.deepEqual(await redis.send([["GET", key]]), [null]);
    assert.deepEqual(await db1.send([["GET", key]]), ["in db 1"]);
  } finally {
    await db1.send([["DEL", key]]);
    db1.close();
  }
});
