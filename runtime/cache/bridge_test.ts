import assert from "node:assert/strict";
import { freePort } from "../_test_util.ts";
import { missingRedis, redisUrl, testWhen } from "../_test_needs.ts";
import {
  type Command,
  type CommandBackend,
  createBridgeHandler,
  MAX_BRIDGE_BODY_BYTES,
  redisBackend,
  startRestBridge,
} from "./bridge.ts";
import { RedisConnectionError, RespError, type RespValue } from "./resp.ts";
import { EmbeddedStore } from "./store.ts";

const noRedis = missingRedis();
const TOKEN = "test-token";

/** A bridge handler over a fresh embedded store. */
async function withBridge(
  fn: (
    call: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>,
    store: EmbeddedStore,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await EmbeddedStore.open(dir);
  const handler = createBridgeHandler(store, TOKEN);
  const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    handler(
      new Request(`http://127.0.0.1:8079${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  try {
    await fn(call, store);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const b64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

Deno.test("bridge: requests without the right bearer token get 401", async () => {
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
    assert.deepEqual(await store.execute([["GET", "k"]]), [null], "nothing ran");
  });
});

Deno.test("bridge: POST / runs one command and answers {result}", async () => {
  await withBridge(async (call) => {
    let response = await call("/", ["SET", "k", "v"]);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await response.json(), { result: "OK" });
    response = await call("/", ["GET", "k"]);
    assert.deepEqual(await response.json(), { result: "v" });
    response = await call("/", ["GET", "missing"]);
    assert.deepEqual(await response.json(), { result: null });
    response = await call("/", ["SET", "n", 41]);
    await response.body?.cancel();
    response = await call("/", ["INCRBY", "n", 1]);
    assert.deepEqual(await response.json(), { result: 42 });
    response = await call("/", ["SET", "flag", true]);
    await response.body?.cancel();
    assert.deepEqual(await (await call("/", ["GET", "flag"])).json(), { result: "true" });
  });
});

Deno.test("bridge: a command Redis refuses is a 400 {error} with Redis's text", async () => {
  await withBridge(async (call) => {
    await (await call("/", ["SET", "k", "text"])).body?.cancel();
    const response = await call("/", ["INCR", "k"]);
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: "ERR value is not an integer or out of range",
    });
  });
});

Deno.test("bridge: Upstash-Encoding base64 encodes every string, not numbers or nil", async () => {
  await withBridge(async (call) => {
    const base64 = { "upstash-encoding": "base64" };
    let response = await call("/", ["SET", "k", "héllo wörld"], base64);
    assert.deepEqual(await response.json(), { result: b64("OK") });
    response = await call("/", ["GET", "k"], base64);
    assert.deepEqual(await response.json(), { result: b64("héllo wörld") });
    response = await call("/", ["GET", "k"], { "Upstash-Encoding": "BASE64" });
    assert.deepEqual(await response.json(), { result: b64("héllo wörld") });
    response = await call(
      "/pipeline",
      [["MGET", "k", "missing"], ["STRLEN", "k"], ["GET", "x"]],
      base64,
    );
    assert.deepEqual(await response.json(), [
      { result: [b64("héllo wörld"), null] },
      { result: 13 }, // bytes, as Redis counts
      { result: null },
    ]);
    response = await call("/", ["SCAN", "0"], base64);
    assert.deepEqual(await response.json(), { result: [b64("0"), [b64("k")]] });
    // Errors are never encoded.
    response = await call("/", ["INCR", "k"], base64);
    assert.deepEqual(await response.json(), {
      error: "ERR value is not an integer or out of range",
    });
    // Without the header, strings are plain.
    response = await call("/", ["GET", "k"]);
    assert.deepEqual(await response.json(), { result: "héllo wörld" });
  });
});

Deno.test("bridge: base64 of a large value is complete", async () => {
  await withBridge(async (call) => {
    const value = "ü".repeat(100_000);
    await (await call("/", ["SET", "big", value])).body?.cancel();
    const response = await call("/", ["GET", "big"], { "upstash-encoding": "base64" });
    const { result } = await response.json();
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(result), (c) => c.charCodeAt(0)));
    assert.equal(decoded, value);
  });
});

Deno.test("bridge: /pipeline answers each command in order, errors in place, status 200", async () => {
  await withBridge(async (call) => {
    const response = await call("/pipeline", [
      ["SET", "k", "v"],
      ["INCR", "k"],
      ["GET", "k"],
      ["NOPE"],
    ]);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(body.slice(0, 3), [
      { result: "OK" },
      { error: "ERR value is not an integer or out of range" },
      { result: "v" },
    ]);
    assert.match(body[3].error, /^ERR unknown command 'NOPE'/);
  });
});

Deno.test("bridge: /multi-exec runs the commands as a transaction on the backend", async () => {
  const seen: Array<{ commands: readonly Command[]; transaction?: boolean }> = [];
  const backend: CommandBackend = {
    execute(commands, options) {
      seen.push({ commands, transaction: options?.transaction });
      return Promise.resolve(
        commands.map((command): RespValue =>
          command[0] === "BAD" ? new RespError("ERR bad") : "OK"
        ),
      );
    },
    close() {},
  };
  const handler = createBridgeHandler(backend, TOKEN);
  const post = (path: string, body: unknown) =>
    handler(
      new Request(`http://127.0.0.1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      }),
    );
  let response = await post("/multi-exec", [["SET", "a", "1"], ["BAD"]]);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), [{ result: "OK" }, { error: "ERR bad" }]);
  response = await post("/pipeline", [["SET", "a", "1"]]);
  await response.body?.cancel();
  response = await post("/", ["SET", "a", "1"]);
  await response.body?.cancel();
  assert.deepEqual(seen.map((call) => call.transaction), [true, false, false]);
  assert.deepEqual(seen[0].commands, [["SET", "a", "1"], ["BAD"]]);
});

Deno.test("bridge: malformed requests are 400, unknown paths 404, other methods 405", async () => {
  await withBridge(async (call, store) => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["/", "not json", 400, /not valid JSON/],
      ["/", "", 400, /not valid JSON/],
      ["/", { command: "GET" }, 400, /a command is a non-empty array/],
      ["/", [], 400, /non-empty array/],
      ["/", [1, "k"], 400, /starts with its name/],
      ["/", ["SET", "k", { v: 1 }], 400, /strings or numbers/],
      ["/", ["SET", "k", null], 400, /strings or numbers/],
      ["/pipeline", [], 400, /command array or an array of commands/],
      ["/pipeline", ["GET", "k"], 400, /non-empty array/],
      ["/pipeline", [["GET", "k"], []], 400, /non-empty array/],
      ["/multi-exec", {}, 400, /array of commands/],
      ["/v1/keys", ["GET", "k"], 404, /unknown endpoint \/v1\/keys/],
    ];
    for (const [path, body, status, message] of cases) {
      const response = await call(path, body);
      assert.equal(response.status, status, `${path} ${JSON.stringify(body)}`);
      assert.match((await response.json()).error, message);
    }
    const handler = createBridgeHandler(store, TOKEN);
    const response = await handler(
      new Request("http://127.0.0.1/", { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    assert.equal(response.status, 405);
    assert.deepEqual(await response.json(), { error: "use POST" });
    // A pipeline with one bad command runs none of them.
    await (await call("/pipeline", [["SET", "ran", "1"], [42]])).body?.cancel();
    assert.deepEqual(await store.execute([["GET", "ran"]]), [null]);
  });
});

Deno.test("bridge: a backend that cannot reach Redis gives 503", async () => {
  const backend = redisBackend(`redis://127.0.0.1:${freePort()}`);
  const handler = createBridgeHandler(backend, TOKEN);
  try {
    const response = await handler(
      new Request("http://127.0.0.1/pipeline", {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: '[["GET","k"]]',
      }),
    );
    assert.equal(response.status, 503);
    assert.match(
      (await response.json()).error,
      /^redis unavailable: cannot connect to 127\.0\.0\.1:/,
    );
  } finally {
    backend.close();
  }
  const failing: CommandBackend = {
    execute: () => Promise.reject(new RedisConnectionError("redis did not answer in time")),
    close() {},
  };
  const response = await createBridgeHandler(failing, TOKEN)(
    new Request("http://127.0.0.1/", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '["PING"]',
    }),
  );
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), {
    error: "redis unavailable: redis did not answer in time",
  });
});

Deno.test({
  name:
    "startRestBridge: serves on loopback, 413 for a declared large body, 500 for a bug, closes the backend on stop",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let closed = 0;
    const backend: CommandBackend = {
      execute: (commands) =>
        commands[0][0] === "CRASH"
          ? Promise.reject(new TypeError("a bug"))
          : Promise.resolve(commands.map(() => "PONG")),
      close: () => void closed++,
    };
    const bridge = await startRestBridge(backend, { token: TOKEN });
    try {
      assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(bridge.token, TOKEN);
      const post = (body: BodyInit) =>
        fetch(bridge.url, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
          body,
        });
      let response = await post('["PING"]');
      assert.deepEqual(await response.json(), { result: "PONG" });
      response = await post(new Uint8Array(MAX_BRIDGE_BODY_BYTES + 1).fill(32));
      assert.equal(response.status, 413);
      assert.deepEqual(await response.json(), { error: "body exceeds 10485760 bytes" });
      response = await post('["CRASH"]');
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "bridge error" });
    } finally {
      await bridge.stop();
    }
    assert.equal(closed, 1);
  },
});

Deno.test({
  name: "startRestBridge: a streamed (chunked) body over the limit is refused with 413 too",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend: CommandBackend = {
      execute: (commands) => Promise.resolve(commands.map(() => "OK")),
      close() {},
    };
    const bridge = await startRestBridge(backend, { token: TOKEN });
    try {
      // A valid command whose value alone exceeds the limit, sent without Content-Length.
      const head = new TextEncoder().encode('["SET","k","');
      const tail = new TextEncoder().encode('"]');
      const filler = new Uint8Array(1024 * 1024).fill(120);
      const chunks = [head, ...Array.from({ length: 11 }, () => filler), tail];
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const response = await fetch(bridge.url, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body,
      });
      assert.equal(response.status, 413);
      await response.body?.cancel();
    } finally {
      await bridge.stop();
    }
  },
});

testWhen(noRedis, {
  name: "redisBackend: pipelines and transactions against a real Redis",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = redisBackend(redisUrl()!);
    const key = `unit:${crypto.randomUUID()}`;
    try {
      assert.deepEqual(await backend.execute([["SET", key, "1"], ["INCR", key]]), ["OK", 2]);
      // EXEC's own replies, errors in place.
      const exec = await backend.execute([["INCR", key], ["LPUSH", key, "x"], ["GET", key]], {
        transaction: true,
      });
      assert.equal(exec[0], 3);
      assert.ok(exec[1] instanceof RespError);
      assert.match((exec[1] as RespError).message, /^WRONGTYPE/);
      assert.equal(exec[2], "3");
      // A command refused while queueing aborts the transaction: every reply is that error.
      const aborted = await backend.execute([["INCR", key], ["GET"]], { transaction: true });
      assert.equal(aborted.length, 2);
      for (const reply of aborted) {
        assert.ok(reply instanceof RespError);
        assert.match(reply.message, /wrong number of arguments for 'get'/);
      }
      assert.deepEqual(await backend.execute([["GET", key]]), ["3"], "nothing of it ran");
    } finally {
      await backend.execute([["DEL", key]]).catch(() => {});
      backend.close();
    }
  },
});
