import assert from "node:assert/strict";
import { freePort } from "../../testing/port.ts";
import { delay, waitFor } from "../../testing/wait.ts";
import { missingRedis, missingTool, redisUrl, testWhen } from "../_test_needs.ts";
import { RedisUnavailableError } from "./bridge.ts";
import { redisBackend } from "./redis.ts";
import { PrivateRedis } from "../../testing/redis_server.ts";

const realTest = (name: string, fn: () => Promise<void>) =>
  testWhen(missingRedis(), {
    name: `redisBackend: ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });

realTest("a pipeline's replies in order, Redis's errors in place", async () => {
  const redis = redisBackend(redisUrl()!);
  const key = `unit:${crypto.randomUUID()}`;
  try {
    assert.deepEqual(
      await redis.execute([["SET", key, "héllo", "EX", "60"], ["GET", key], ["INCR", key], [
        "TTL",
        key,
      ], ["GET", `${key}:missing`]]),
      [
        { result: "OK" },
        { result: "héllo" },
        { error: "ERR value is not an integer or out of range" },
        { result: 60 },
        { result: null },
      ],
    );
  } finally {
    await redis.execute([["DEL", key]]);
    await redis.close();
  }
});

realTest("the database comes from the URL", async () => {
  const key = `unit:${crypto.randomUUID()}`;
  const url = new URL(redisUrl()!);
  const db0 = redisBackend(url.href);
  url.pathname = url.pathname === "/1" ? "/2" : "/1";
  const db1 = redisBackend(url.href);
  try {
    await db1.execute([["SET", key, "in db 1", "EX", "60"]]);
    assert.deepEqual(await db0.execute([["GET", key]]), [{ result: null }]);
    assert.deepEqual(await db1.execute([["GET", key]]), [{ result: "in db 1" }]);
  } finally {
    await db1.execute([["DEL", key]]);
    await Promise.all([db0.close(), db1.close()]);
  }
});

realTest("a slow command fails alone; the commands behind it get their answers", async () => {
  const redis = redisBackend(redisUrl()!, 2000);
  try {
    // BLPOP holds the connection for 2.5 s: 0.5 s past its own deadline, 1 s within the PING's.
    const slow = redis.execute([["BLPOP", `unit:${crypto.randomUUID()}`, "2.5"]]);
    await delay(1500);
    const behind = redis.execute([["PING", "behind"]]);
    await assert.rejects(slow, RedisUnavailableError);
    assert.deepEqual(await behind, [{ result: "behind" }]);
  } finally {
    await redis.close();
  }
});

Deno.test("redisBackend: nothing listening is RedisUnavailableError at once", async () => {
  const redis = redisBackend(`redis://127.0.0.1:${freePort()}`);
  try {
    const started = performance.now();
    await assert.rejects(redis.execute([["PING"]]), RedisUnavailableError);
    await assert.rejects(redis.execute([["PING"]]), RedisUnavailableError);
    assert.ok(performance.now() - started < 2000);
  } finally {
    await redis.close();
  }
});

testWhen(missingTool("redis-server", "redis-server"), {
  name: "redisBackend: logs in with the URL's password, fails while the server is down, recovers",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await PrivateRedis.start({ password: "p@ss" });
    const redis = redisBackend(`${server.url}/2`);
    try {
      await redis.execute([["SET", "k", "v"]]);
      const direct = redisBackend(server.url);
      assert.deepEqual(await direct.execute([["GET", "k"], ["SELECT", "2"], ["GET", "k"]]), [
        { result: null },
        { result: "OK" },
        { result: "v" },
      ]);
      await direct.close();
      await server.stop();
      await waitFor("the outage to show", () =>
        redis.execute([["PING"]]).then(
          () => false,
          (error) => error instanceof RedisUnavailableError,
        ));
      await server.restart();
      await waitFor(
        "recovery",
        () => redis.execute([["PING"]]).then(() => true, () => false),
        5000,
      );
    } finally {
      await redis.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redisBackend: a server that accepts and never answers fails each command by its deadline",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const connection of listener) held.push(connection);
    })().catch(() => {});
    const redis = redisBackend(`redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, 300);
    try {
      for (let i = 0; i < 2; i++) {
        const started = performance.now();
        await assert.rejects(redis.execute([["PING"]]), RedisUnavailableError);
        assert.ok(performance.now() - started < 1500, `took ${performance.now() - started} ms`);
      }
    } finally {
      await redis.close();
      listener.close();
      for (const connection of held) connection.close();
    }
  },
});
