import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type MemoryTelemetry, memoryTelemetry, metricValue } from "../_test_util.ts";
import { missingRedis, missingTool, redisUrl, testWhen } from "../_test_needs.ts";
import { DependencyMisconfiguredError, DependencyUnavailableError } from "../errors.ts";
import { type Backend, RedisUnavailableError, type RestBridge, startRestBridge } from "./bridge.ts";
import { type CacheClient, CacheError, classifyCacheError, connectCache } from "./client.ts";
import { redisBackend } from "./redis.ts";
import { openEmbeddedStore } from "./store.ts";
import { PrivateRedis } from "../../testing/redis_server.ts";

const SERVER = { address: "redis.test", port: 6380 };

/** A cache client through a REST bridge over a fresh embedded store (or `backend`). */
async function withCache(
  fn: (
    cache: CacheClient,
    context: { telemetry: MemoryTelemetry; store: Backend; bridge: RestBridge; dir: string },
  ) => Promise<void>,
  backend?: Backend,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = backend ?? await openEmbeddedStore(dir);
  const started = await startRestBridge(store, { token: "cache-token" });
  let stopped: Promise<void> | undefined;
  const bridge: RestBridge = { ...started, stop: () => stopped ??= started.stop() };
  const telemetry = memoryTelemetry("app4");
  const cache = connectCache({
    url: bridge.url,
    token: bridge.token,
    server: SERVER,
    tracer: telemetry.tracer,
    metrics: telemetry.metrics,
    timeoutMs: 2000,
  });
  try {
    await fn(cache, { telemetry, store, bridge, dir });
  } finally {
    await bridge.stop(); // closes the store too
    await Deno.remove(dir, { recursive: true });
  }
}

const cacheTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

/** The expiry the embedded store journaled for each key, in seconds from now (null: none). */
async function journaledTtls(dir: string): Promise<Record<string, number | null>> {
  const lines = (await Deno.readTextFile(`${dir}/journal.jsonl`)).trim().split("\n");
  return Object.fromEntries(lines.map((line) => {
    const [, key, , expiresAt] = JSON.parse(line);
    return [key, expiresAt === null ? null : Math.round((expiresAt - Date.now()) / 1000)];
  }));
}

cacheTest("connectCache: set and get JSON values through the bridge", async () => {
  await withCache(async (cache, { store, dir }) => {
    const message = { id: "8c1f", content: "héllo", source: "app3", tags: [1, 2] };
    await cache.set("message:8c1f", message);
    assert.deepEqual(await cache.get("message:8c1f"), message);
    assert.equal(await cache.get("message:missing"), null);
    const [raw] = await store.execute([["GET", "message:8c1f"]]);
    assert.ok("result" in raw);
    assert.deepEqual(JSON.parse(raw.result as string), message, "stored as JSON");
    assert.deepEqual(await journaledTtls(dir), { "message:8c1f": null }, "no TTL unless asked");
    await cache.ping();
  });
});

cacheTest("connectCache: ttlSeconds sets the expiry", async () => {
  await withCache(async (cache, { dir }) => {
    await cache.set("message:1", { id: "1" }, { ttlSeconds: 86400 });
    await cache.set("message:2", "plain", { ttlSeconds: 60 });
    assert.equal(await cache.get("message:2"), "plain");
    assert.deepEqual(await journaledTtls(dir), { "message:1": 86400, "message:2": 60 });
  });
});

testWhen(missingRedis(), {
  name: "connectCache: through the bridge to a real Redis, with the TTL",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = redisBackend(redisUrl()!);
    const key = `unit:${crypto.randomUUID()}`;
    await withCache(async (cache, { store }) => {
      await cache.set(key, { content: "héllo" }, { ttlSeconds: 600 });
      assert.deepEqual(await cache.get(key), { content: "héllo" });
      await cache.ping();
      assert.deepEqual(await store.execute([["TTL", key], ["DEL", key]]), [
        { result: 600 },
        { result: 1 },
      ]);
    }, redis);
  },
});

cacheTest(
  "connectCache: GET and SET are CLIENT spans whose query text holds no values",
  async () => {
    await withCache(async (cache, { telemetry }) => {
      await telemetry.tracer.startActiveSpan("process Purchase2", async (parent) => {
        await cache.set("message:secret-key", { content: "secret-value" }, { ttlSeconds: 30 });
        await cache.set("message:other-key", { content: "x" });
        await cache.get("message:secret-key");
        parent.end();
      });
      const parent = telemetry.span("process Purchase2");
      const sets = telemetry.spans().filter((span) => span.name === "SET");
      assert.equal(sets.length, 2);
      const get = telemetry.span("GET");
      for (const span of [...sets, get]) {
        assert.equal(span.kind, SpanKind.CLIENT);
        assert.equal(span.parentSpanContext?.spanId, parent.spanContext().spanId);
        assert.equal(span.status.code, SpanStatusCode.UNSET);
        const attributes = JSON.stringify(span.attributes);
        assert.ok(!attributes.includes("secret"), attributes);
        assert.ok(!attributes.includes("message:"), attributes);
      }
      assert.deepEqual(sets[0].attributes, {
        "db.system.name": "redis",
        "db.namespace": "0",
        "server.address": "redis.test",
        "server.port": 6380,
        "service.peer.name": "redis",
        "peer.service": "redis",
        "db.operation.name": "SET",
        "db.query.text": "SET ? ? EX ?",
      });
      assert.equal(sets[1].attributes["db.query.text"], "SET ? ?");
      assert.equal(get.attributes["db.query.text"], "GET ?");
      assert.equal(get.attributes["db.operation.name"], "GET");
      const registry = telemetry.metrics.registry;
      assert.equal(
        await metricValue(registry, "db_client_operation_duration_seconds_count", {
          db_system_name: "redis",
          db_operation_name: "SET",
          db_namespace: "0",
          server_address: "redis.test",
          server_port: "6380",
        }),
        2,
      );
      assert.equal(await metricValue(registry, "dependency_up", { dependency: "redis" }), 1);
    });
  },
);

cacheTest(
  "connectCache: an unreachable endpoint is DependencyUnavailableError, dependency_up 0",
  async () => {
    await withCache(async (cache, { telemetry, bridge }) => {
      await cache.set("k", 1);
      await bridge.stop();
      await assert.rejects(cache.get("k"), (error) => {
        assert.ok(error instanceof DependencyUnavailableError);
        assert.equal(error.message, "redis is unavailable");
        return true;
      });
      await assert.rejects(cache.ping(), DependencyUnavailableError);
      const failed = telemetry.span("GET");
      assert.equal(failed.status.code, SpanStatusCode.ERROR);
      assert.equal(failed.attributes["error.type"], "DependencyUnavailableError");
      const registry = telemetry.metrics.registry;
      assert.equal(await metricValue(registry, "dependency_up", { dependency: "redis" }), 0);
      assert.equal(
        await metricValue(registry, "db_client_operation_duration_seconds_count", {
          db_operation_name: "GET",
          error_type: "DependencyUnavailableError",
        }),
        1,
      );
    });
  },
);

cacheTest(
  "connectCache: a bridge whose Redis is down (503) is DependencyUnavailableError",
  async () => {
    const bridge = await startRestBridge({
      execute: () => Promise.reject(new RedisUnavailableError("down")),
      close: () => Promise.resolve(),
    }, { token: "t" });
    const telemetry = memoryTelemetry("app4");
    const cache = connectCache({
      url: bridge.url,
      token: "t",
      server: SERVER,
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
    });
    try {
      await assert.rejects(cache.set("k", "v"), DependencyUnavailableError);
    } finally {
      await bridge.stop();
    }
  },
);

cacheTest(
  "connectCache: a wrong token (401) is DependencyMisconfiguredError, never a message's fault",
  async () => {
    await withCache(async (_, { bridge }) => {
      const telemetry = memoryTelemetry("app4");
      const cache = connectCache({
        url: bridge.url,
        token: "not-the-token",
        server: SERVER,
        tracer: telemetry.tracer,
        metrics: telemetry.metrics,
      });
      for (const call of [() => cache.set("k", "v"), () => cache.get("k"), () => cache.ping()]) {
        await assert.rejects(call(), (error) => {
          assert.ok(error instanceof DependencyMisconfiguredError, String(error));
          assert.equal(error.reason, "401");
          return true;
        });
      }
      assert.equal(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "redis" }),
        0,
      );
    });
  },
);

testWhen(missingTool("redis-server", "redis-server"), {
  name:
    "connectCache: REDIS_URL with a password the server refuses is DependencyMisconfiguredError",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await PrivateRedis.start({ password: "right" });
    const port = server.port;
    try {
      for (
        const [url, reason] of [[`redis://:wrong@127.0.0.1:${port}`, "WRONGPASS"], [
          `redis://127.0.0.1:${port}`,
          "NOAUTH",
        ]]
      ) {
        await withCache(async (cache) => {
          for (const call of [() => cache.set("k", "v"), () => cache.ping()]) {
            await assert.rejects(call(), (error) => {
              assert.ok(error instanceof DependencyMisconfiguredError, `${reason}: ${error}`);
              assert.equal(error.reason, reason);
              return true;
            });
          }
        }, redisBackend(url, 1000));
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test("classifyCacheError: Redis error replies become CacheError with the code only", () => {
  const upstash = (message: string) => Object.assign(new Error(message), { name: "UpstashError" });
  const wrongType = classifyCacheError(
    upstash("WRONGTYPE Operation against a key holding the wrong kind of value"),
  );
  assert.ok(wrongType instanceof CacheError);
  assert.equal(wrongType.code, "WRONGTYPE");
  assert.equal(wrongType.message, "redis error WRONGTYPE");
  const syntax = classifyCacheError(
    upstash('ERR syntax error, command was: [["set","message:1","{\\"secret\\":1}"]]'),
  );
  assert.ok(syntax instanceof CacheError);
  assert.equal(syntax.code, "ERR");
  assert.ok(!syntax.message.includes("secret"));
});

Deno.test("classifyCacheError: an endpoint or Redis that cannot be reached is an outage", () => {
  const upstash = (message: string) => Object.assign(new Error(message), { name: "UpstashError" });
  for (
    const error of [
      upstash("redis unavailable: cannot connect to 127.0.0.1:6379"),
      Object.assign(new TypeError("fetch failed"), { cause: new Error("Connection refused") }),
      new DOMException("The signal has been aborted", "TimeoutError"),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8079"), { code: "ECONNREFUSED" }),
    ]
  ) {
    const classified = classifyCacheError(error);
    assert.ok(classified instanceof DependencyUnavailableError, String(error));
    assert.ok(!(classified instanceof DependencyMisconfiguredError), String(error));
    assert.equal(classified.cause, error);
  }
});

Deno.test("classifyCacheError: a token or password Redis refuses is a configuration error", () => {
  const upstash = (message: string) => Object.assign(new Error(message), { name: "UpstashError" });
  const cases = [
    ['Unauthorized, command was: [["set","message:1","{\\"secret\\":1}"]]', "401"],
    ["WRONGPASS invalid username-password pair or user is disabled.", "WRONGPASS"],
    ["Command failed: NOAUTH Authentication required.", "NOAUTH"],
  ];
  for (const [message, reason] of cases) {
    const classified = classifyCacheError(upstash(message));
    assert.ok(classified instanceof DependencyMisconfiguredError, message);
    assert.equal(classified.reason, reason);
    assert.equal(classified.dependency, "redis");
    assert.ok(!classified.message.includes("secret"));
  }
});

Deno.test("classifyCacheError: any other failure is a CacheError (retried, then dead-lettered)", () => {
  for (
    const [error, code] of [
      [new Error("ERR looks like redis but is not an UpstashError"), "Error"],
      [new TypeError("Cannot read properties of undefined (reading 'secret')"), "TypeError"],
      [
        Object.assign(new Error("<html>bad gateway</html>"), { name: "UpstashJSONParseError" }),
        "UpstashJSONParseError",
      ],
      ["string", "string"],
      [undefined, "undefined"],
    ] as const
  ) {
    const classified = classifyCacheError(error);
    assert.ok(classified instanceof CacheError, String(error));
    assert.equal(classified.code, code);
    assert.ok(!classified.message.includes("secret"));
  }
});

Deno.test({
  name: "connectCache: a command Redis refuses is a CacheError, not 'redis is unavailable'",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withCache(async (cache, { telemetry }) => {
      // A negative TTL is refused by Redis ("ERR invalid expire time in 'set' command").
      await assert.rejects(cache.set("k", "v", { ttlSeconds: -5 }), (error) => {
        assert.ok(error instanceof CacheError, `got ${error}`);
        assert.equal(error.code, "ERR");
        return true;
      });
      assert.notEqual(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "redis" }),
        0,
        "a refused command says nothing about Redis being down",
      );
      const set = telemetry.span("SET");
      assert.equal(set.attributes["db.response.status_code"], "ERR");
      assert.equal(set.attributes["error.type"], "ERR");
      assert.equal(
        await metricValue(
          telemetry.metrics.registry,
          "db_client_operation_duration_seconds_count",
          {
            db_operation_name: "SET",
            error_type: "ERR",
            db_response_status_code: "ERR",
          },
        ),
        1,
      );
    });
  },
});

cacheTest("connectCache: without a known server (embedded store) no server.* at all", async () => {
  const dir = await Deno.makeTempDir();
  const bridge = await startRestBridge(await openEmbeddedStore(dir), { token: "t" });
  const telemetry = memoryTelemetry("app4");
  const cache = connectCache({
    url: bridge.url,
    token: "t",
    namespace: "3",
    tracer: telemetry.tracer,
    metrics: telemetry.metrics,
  });
  try {
    await cache.set("k", "v");
    const set = telemetry.span("SET");
    assert.equal(set.attributes["db.namespace"], "3", "the database index the URL names");
    assert.equal(set.attributes["server.address"], undefined);
    assert.equal(set.attributes["server.port"], undefined, "never a made-up port 0");
    assert.equal(set.attributes["peer.service"], "redis", "Tempo still names the node redis");
  } finally {
    await bridge.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
