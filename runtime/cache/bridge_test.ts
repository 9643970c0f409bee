import assert from "node:assert/strict";
import { freePort } from "../../testing/port.ts";
import { missingTool, testWhen } from "../_test_needs.ts";
import {
  type Backend,
  createBridgeHandler,
  RedisUnavailableError,
  type Reply,
  startRestBridge,
} from "./bridge.ts";
import { redisBackend } from "./redis.ts";
import { openEmbeddedStore } from "./store.ts";
import { PrivateRedis } from "../../testing/redis_server.ts";

const TOKEN = "test-token";

type Call = (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;

/** A caller of `handler` that sends the right token. */
const caller = (handler: (request: Request) => Promise<Response>): Call => (path, body, headers) =>
  handler(
    new Request(`http://127.0.0.1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );

/** A bridge handler over a fresh embedded store. */
async function withBridge(fn: (call: Call, store: Backend) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await openEmbeddedStore(dir);
  try {
    await fn(caller(createBridgeHandler(store, TOKEN)), store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A backend answering every command with `reply`, or failing as `fail` says. */
const fixed = (reply: Reply, fail?: Error): Backend & { closed: number } => {
  const backend = {
    closed: 0,
    execute: (commands: readonly (readonly string[])[]) =>
      fail ? Promise.reject(fail) : Promise.resolve(commands.map(() => ({ result: reply }))),
    close: () => Promise.resolve(void backend.closed++),
  };
  return backend;
};

const b64 = (text: string) => new TextEncoder().encode(text).toBase64();

Deno.test("bridge: requests without the right bearer token get 401 and run nothing", async () => {
  await withBridge(async (_call, store) => {
    const handler = createBridgeHandler(store, TOKEN);
    for (
      const authorization of [
        undefined,
        "",
        TOKEN,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}X`,
        `bearer ${TOKEN}`,
        "Bearer ",
      ]
    ) {
      const response = await handler(
        new Request("http://127.0.0.1/", {
          method: "POST",
          headers: authorization === undefined ? {} : { authorization },
          body: '["SET","k","v"]',
        }),
      );
      assert.equal(response.status, 401, String(authorization));
      assert.deepEqual(await response.json(), { error: "Unauthorized" });
    }
    assert.deepEqual(await store.execute([["GET", "k"]]), [{ result: null }], "nothing ran");
  });
});

Deno.test("bridge: POST / runs one command; numbers and booleans are sent as text", async () => {
  await withBridge(async (call) => {
    const response = await call("/", ["SET", "k", 41, "EX", 60]);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await response.json(), { result: "OK" });
    assert.deepEqual(await (await call("/", ["GET", "k"])).json(), { result: "41" });
    await (await call("/", ["SET", "flag", true])).body?.cancel();
    assert.deepEqual(await (await call("/", ["GET", "flag"])).json(), { result: "true" });
    assert.deepEqual(await (await call("/", ["GET", "missing"])).json(), { result: null });
  });
});

Deno.test("bridge: a command Redis refuses is a 400 {error} with Redis's text", async () => {
  await withBridge(async (call) => {
    const response = await call("/", ["SET", "k", "v", "EX", "-5"]);
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: "ERR invalid expire time in 'set' command",
    });
  });
});

Deno.test("bridge: /pipeline answers each command in order, errors in place, status 200", async () => {
  await withBridge(async (call) => {
    const response = await call("/pipeline", [["SET", "k", "v"], ["SET", "k"], ["GET", "k"]]);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), [
      { result: "OK" },
      { error: "ERR wrong number of arguments for 'set' command" },
      { result: "v" },
    ]);
  });
});

Deno.test("bridge: Upstash-Encoding base64 encodes every string, not numbers or nil", async () => {
  await withBridge(async (call) => {
    const base64 = { "upstash-encoding": "base64" };
    assert.deepEqual(await (await call("/", ["SET", "k", "héllo wörld"], base64)).json(), {
      result: b64("OK"),
    });
    assert.deepEqual(
      await (await call("/", ["GET", "k"], { "Upstash-Encoding": "BASE64" })).json(),
      {
        result: b64("héllo wörld"),
      },
    );
    assert.deepEqual(await (await call("/pipeline", [["GET", "k"], ["GET", "x"]], base64)).json(), [
      { result: b64("héllo wörld") },
      { result: null },
    ]);
    assert.deepEqual(await (await call("/", ["SET", "k"], base64)).json(), {
      error: "ERR wrong number of arguments for 'set' command",
    }, "errors are never encoded");
    assert.deepEqual(await (await call("/", ["GET", "k"])).json(), { result: "héllo wörld" });
    const value = "ü".repeat(100_000);
    await (await call("/", ["SET", "big", value])).body?.cancel();
    const { result } = await (await call("/", ["GET", "big"], base64)).json();
    assert.equal(new TextDecoder().decode(Uint8Array.fromBase64(result)), value);
  });
  const arrays = caller(createBridgeHandler(fixed(["a", 1, null, ["é"]]), TOKEN));
  assert.deepEqual(
    await (await arrays("/", ["GET", "k"], { "upstash-encoding": "base64" })).json(),
    {
      result: [b64("a"), 1, null, [b64("é")]],
    },
  );
});

Deno.test("bridge: malformed requests are 400, unknown paths 404, other methods 405", async () => {
  await withBridge(async (call, store) => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["/", "not json", 400, /not valid JSON/],
      ["/", "", 400, /not valid JSON/],
      ["/", { command: "GET" }, 400, /expected \["NAME", \.\.\.args\]/],
      ["/", [], 400, /expected/],
      ["/", [1, "k"], 400, /expected/],
      ["/", ["SET", "k", { v: 1 }], 400, /expected/],
      ["/", ["SET", "k", null], 400, /expected/],
      ["/pipeline", [], 400, /expected/],
      ["/pipeline", ["GET", "k"], 400, /expected/],
      ["/pipeline", [["SET", "ran", "1"], []], 400, /expected/],
      ["/multi-exec", [["GET", "k"]], 404, /unknown endpoint \/multi-exec/],
    ];
    for (const [path, body, status, message] of cases) {
      const response = await call(path, body);
      assert.equal(response.status, status, `${path} ${JSON.stringify(body)}`);
      assert.match((await response.json()).error, message);
    }
    assert.deepEqual(await store.execute([["GET", "ran"]]), [{ result: null }], "none of it ran");
    const response = await createBridgeHandler(store, TOKEN)(
      new Request("http://127.0.0.1/", { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    assert.equal(response.status, 405);
    assert.deepEqual(await response.json(), { error: "use POST" });
  });
});

Deno.test("bridge: a backend that cannot reach Redis gives 503", async () => {
  const backend = redisBackend(`redis://127.0.0.1:${freePort()}`);
  try {
    const response = await caller(createBridgeHandler(backend, TOKEN))("/pipeline", [["GET", "k"]]);
    assert.equal(response.status, 503);
    assert.match((await response.json()).error, /^redis unavailable: /);
  } finally {
    await backend.close();
  }
  const failing = fixed(null, new RedisUnavailableError("no answer within 5000 ms"));
  const response = await caller(createBridgeHandler(failing, TOKEN))("/", ["PING"]);
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), {
    error: "redis unavailable: no answer within 5000 ms",
  });
});

Deno.test("startRestBridge: serves on loopback, 500 for a bug, closes the backend on stop", async () => {
  const backend = fixed("PONG");
  const bridge = await startRestBridge(backend, { token: TOKEN });
  const broken = await startRestBridge(fixed(null, new TypeError("a bug")), { token: TOKEN });
  try {
    assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(bridge.token, TOKEN);
    const post = (url: string) =>
      fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: '["PING"]',
      });
    assert.deepEqual(await (await post(bridge.url)).json(), { result: "PONG" });
    const response = await post(broken.url);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: "bridge error" });
  } finally {
    await Promise.all([bridge.stop(), broken.stop()]);
  }
  assert.equal(backend.closed, 1);
});

/** A backend that records what it was asked to run. */
const recording = () => {
  const ran: string[][] = [];
  const backend: Backend = {
    execute: (commands) => {
      ran.push(...commands.map((command) => [...command]));
      return Promise.resolve(commands.map(() => ({ result: "OK" })));
    },
    close: () => Promise.resolve(),
  };
  return { ran, backend };
};

Deno.test("bridge: only what the cache client sends runs; FLUSHALL, CONFIG, SHUTDOWN and the rest get 403", async () => {
  const { ran, backend } = recording();
  const call = caller(createBridgeHandler(backend, TOKEN));
  for (
    const command of [
      ["FLUSHALL"],
      ["flushdb"],
      ["CONFIG", "SET", "dir", "/tmp"],
      ["SHUTDOWN", "NOSAVE"],
      ["EVAL", "return 1", "0"],
      ["KEYS", "*"],
      ["DEL", "message:1"],
      ["MULTI"],
      ["SCRIPT", "FLUSH"],
    ]
  ) {
    const response = await call("/", command);
    assert.equal(response.status, 403, command.join(" "));
    const { error } = await response.json();
    assert.equal(
      error,
      `ERR command '${
        command[0].toUpperCase()
      }' is not allowed here (this bridge runs PING, GET, SET)`,
    );
  }
  // One refused command in a pipeline: none of it runs.
  const mixed = await call("/pipeline", [["SET", "k", "v"], ["FLUSHALL"]]);
  assert.equal(mixed.status, 403);
  await mixed.body?.cancel();
  assert.deepEqual(ran, [], "nothing reached the backend");
  for (const command of [["PING"], ["GET", "k"], ["set", "k", "v", "EX", "60"]]) {
    const response = await call("/", command);
    assert.equal(response.status, 200, command.join(" "));
    await response.body?.cancel();
  }
  assert.equal(ran.length, 3);
});

testWhen(missingTool("redis-server", "redis-server"), {
  name:
    "bridge over a real Redis: FLUSHALL, CONFIG and SHUTDOWN are refused; Redis and its keys stay",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await PrivateRedis.start();
    const redis = redisBackend(server.url, 1000);
    try {
      const call = caller(createBridgeHandler(redis, TOKEN));
      assert.equal((await call("/", ["SET", "kept", "1"])).status, 200);
      for (const command of [["FLUSHALL"], ["CONFIG", "SET", "requirepass", "x"], ["SHUTDOWN"]]) {
        const response = await call("/", command);
        await response.body?.cancel();
        assert.equal(response.status, 403, command[0]);
      }
      const [kept, config] = await redis.execute([["GET", "kept"], [
        "CONFIG",
        "GET",
        "requirepass",
      ]]);
      assert.deepEqual(kept, { result: "1" });
      assert.match(JSON.stringify(config), /"requirepass"[,:]""/, "no password was set");
    } finally {
      await redis.close();
      await server.stop();
    }
  },
});
