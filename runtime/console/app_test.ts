import assert from "node:assert/strict";
import { Hono } from "hono";
import { kafkaFlow, log } from "./_fixtures.ts";
import { createConsoleApp } from "./app.ts";
import { ConsoleStore } from "./store.ts";

const local = (path: string) => `http://localhost:8000${path}`;

function withFlow() {
  const store = new ConsoleStore({ notifyDelayMs: 5 });
  const flow = kafkaFlow();
  for (const s of flow) store.addSpan(s);
  store.addLog(log({ traceId: flow[0].traceId, body: "message published" }));
  return { store, flow, app: createConsoleApp({ reader: store, sink: store, loopback: true }) };
}

Deno.test("the JSON API answers with the shapes of the console issue", async () => {
  const { app, flow } = withFlow();
  const traces = await (await app.request(local("/api/traces?service=app4&limit=5"))).json();
  assert.equal(traces.traces.length, 1);
  assert.deepEqual(Object.keys(traces.traces[0]).sort(), [
    "durationMs",
    "error",
    "rootName",
    "rootService",
    "services",
    "spanCount",
    "start",
    "traceId",
  ]);
  const detail = await (await app.request(local(`/api/traces/${flow[0].traceId}`))).json();
  assert.equal(detail.spans.length, 10);
  assert.equal(detail.logs[0].body, "message published");
  assert.equal(detail.summary.kafka.waitMs, 10);
  const logs = await (await app.request(local(`/api/logs?traceId=${flow[0].traceId}`))).json();
  assert.equal(logs.logs.length, 1);
  const graph = await (await app.request(local("/api/graph"))).json();
  assert.equal(graph.edges.length, 7);
  const stats = await (await app.request(local("/api/stats"))).json();
  assert.equal(stats.traces.kept, 1);
  assert.ok(Array.isArray((await (await app.request(local("/api/metrics"))).json()).functions));
  assert.ok(Array.isArray((await (await app.request(local("/api/functions"))).json()).functions));
});

Deno.test("bad query parameters are a 400 naming the parameter; an unknown trace a 404", async () => {
  const { app } = withFlow();
  for (
    const [path, word] of [
      ["/api/traces?limit=0", "limit"],
      ["/api/traces?limit=abc", "limit"],
      ["/api/traces?error=maybe", "error"],
      ["/api/traces?minMs=-1", "minMs"],
      ["/api/traces?attr=novalue", "attr"],
      ["/api/traces?servce=app1", "servce"],
      ["/api/logs?severity=loud", "severity"],
      ["/api/logs?traceId=xyz", "traceId"],
      ["/api/traces/not-a-trace", "32 hex"],
    ]
  ) {
    const response = await app.request(local(path));
    assert.equal(response.status, 400, path);
    assert.match((await response.json()).error, new RegExp(word), path);
  }
  const missing = await app.request(local(`/api/traces/${"f".repeat(32)}`));
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /no trace/);
  assert.equal((await app.request(local("/api/nothing"))).status, 404);
});

Deno.test("a request naming another host is refused on loopback (DNS rebinding)", async () => {
  const { app } = withFlow();
  const response = await app.request("http://attacker.example:8000/api/traces");
  assert.equal(response.status, 421);
  assert.equal((await app.request("http://127.0.0.1:8000/api/traces")).status, 200);
  assert.equal((await app.request("http://[::1]:8000/api/traces")).status, 200);
});

Deno.test("with a token: 401 without it; ?token= sets a cookie; a bearer header works", async () => {
  const store = new ConsoleStore();
  const app = createConsoleApp({ reader: store, sink: store, loopback: false, token: "s3cret" });
  const url = "http://192.0.2.1:8000";
  assert.equal((await app.request(`${url}/api/traces`)).status, 401);
  assert.equal((await app.request(`${url}/api/traces?token=wrong`)).status, 401);
  const first = await app.request(`${url}/?token=s3cret`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.get("location"), "/");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  assert.equal((await app.request(`${url}/api/traces`, { headers: { cookie } })).status, 200);
  const bearer = { authorization: "Bearer s3cret" };
  assert.equal((await app.request(`${url}/api/stats`, { headers: bearer })).status, 200);
  const ingest = await app.request(`${url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(ingest.status, 401);
});

Deno.test("pages mount after the API and read the same store", async () => {
  const store = new ConsoleStore();
  const app = createConsoleApp({
    reader: store,
    loopback: true,
    pages: (app: Hono, reader) => {
      app.get("/", (c) => c.text(`traces: ${reader.traces().length}`));
      app.get("/api/traces", (c) => c.text("shadowed"));
    },
  });
  assert.equal(await (await app.request(local("/"))).text(), "traces: 0");
  assert.deepEqual(await (await app.request(local("/api/traces"))).json(), { traces: [] });
});

Deno.test("the event stream sends stats, then a trace event as spans arrive", async () => {
  const store = new ConsoleStore({ notifyDelayMs: 5 });
  const app = createConsoleApp({ reader: store, loopback: true, heartbeatMs: 50 });
  const controller = new AbortController();
  const response = await app.request(local("/api/events"), { signal: controller.signal });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const until = async (word: string) => {
    while (!text.includes(word)) text += (await reader.read()).value ?? "";
  };
  await until("event: stats");
  for (const s of kafkaFlow()) store.addSpan(s);
  await until("event: trace");
  const data = text.split("event: trace\ndata: ")[1].split("\n")[0];
  assert.equal(JSON.parse(data).trace.spanCount, 10);
  await reader.cancel();
  controller.abort();
  store.close();
});
