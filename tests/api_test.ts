/**
 * The HTTP interface contract of every function and operational endpoint, bad input of every
 * kind (generated, hundreds of cases), and content that is unusual but valid round-tripping
 * exactly through PostgreSQL and Redis (parameterised SQL, no injection).
 */
import assert from "node:assert/strict";
import { missingTool, testWhen } from "../runtime/_test_needs.ts";
import { assertPromtoolAccepts } from "../runtime/_test_util.ts";
import { badRequests } from "./_bad_inputs.ts";
import { getJson, postJson, startTestHost, testEachBackend } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";

const API_SERVICES = ["app1", "app2", "app3", "app4"] as const;

Deno.test({
  name: "every endpoint answers per the interface contract",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const test = await startTestHost({ services: API_SERVICES });
    try {
      const app1 = test.url("app1");
      const app3 = test.url("app3");
      const app4 = test.url("app4");

      // POST /Message: app1 gives an id, app3 stores it (201), a replay is 200, a clash 409.
      const created = await postJson(`${app1}/Message`, { content: "first" });
      assert.equal(created.status, 201);
      const id = String(created.body.id);
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(created.body.content, "first");
      assert.equal(created.body.source, "app1");
      assert.equal((await postJson(`${app1}/Message`, { id, content: "first" })).status, 200);
      const clash = await postJson(`${app1}/Message`, { id, content: "other" });
      assert.equal(clash.status, 409);
      assert.match(String(clash.body.error), /already exists/);

      // A caller's id travels as given (upper case is normalised).
      const given = crypto.randomUUID();
      const stored = await postJson(`${app3}/PostMessage`, {
        id: given.toUpperCase(),
        content: "direct",
      });
      assert.equal(stored.status, 201);
      assert.equal(stored.body.id, given);
      assert.equal(stored.body.source, "app3");
      const row = await getJson(`${app3}/Message/${given}`);
      assert.deepEqual(row.body, stored.body);
      assert.equal((await getJson(`${app3}/Message/${crypto.randomUUID()}`)).status, 404);

      // POST /Message/Post-Message: 202 with where it went; the message reaches app4's cache.
      const published = await postJson(`${app1}/Message/Post-Message`, { content: "via kafka" });
      assert.equal(published.status, 202);
      assert.equal(published.body.topic, "Purchase");
      assert.equal(typeof published.body.partition, "number");
      assert.match(String(published.body.offset), /^\d+$/);
      const cached = await waitFor("the message in app4's cache", async () => {
        const reply = await getJson(`${app4}/Message/${published.body.id}`);
        return reply.status === 200 ? reply.body : undefined;
      });
      assert.equal(cached.content, "via kafka");
      assert.equal((await getJson(`${app4}/Message/${crypto.randomUUID()}`)).status, 404);
      const direct = await postJson(`${app3}/Message/Post-Message`, { content: "to app4" });
      assert.equal(direct.status, 202);
      assert.equal(direct.body.topic, "Purchase2");

      // Operational endpoints on every service; /metrics is valid Prometheus text.
      for (const service of API_SERVICES) {
        const base = test.url(service);
        assert.deepEqual((await getJson(`${base}/healthz`)).body, { status: "ok" });
        const ready = await getJson(`${base}/readyz`);
        assert.equal(ready.status, 200, JSON.stringify(ready.body));
        const metrics = await fetch(`${base}/metrics`);
        assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
        const text = await metrics.text();
        assert.match(text, /^target_info\{service_name="[a-z0-9]+"/m);
      }
      const app1Metrics = await (await fetch(`${app1}/metrics`)).text();
      assert.match(
        app1Metrics,
        /^http_server_request_duration_seconds_count\{http_request_method="POST",url_scheme="http",http_route="\/Message",http_response_status_code="201"\} [1-9]/m,
      );
      assert.match(
        app1Metrics,
        /^messaging_client_sent_messages_total\{messaging_system="kafka",messaging_destination_name="Purchase",[^}]*\} [1-9]/m,
      );
    } finally {
      await test.stop();
    }
  },
});

testWhen(missingTool("promtool", "prometheus"), {
  name: "every service's /metrics passes promtool check metrics after both paths ran",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const test = await startTestHost({ services: API_SERVICES });
    try {
      assert.equal((await postJson(`${test.url("app1")}/Message`, { content: "m" })).status, 201);
      const published = await postJson(`${test.url("app1")}/Message/Post-Message`, {
        content: "m",
      });
      await waitFor("the message in app4's cache", async () => {
        const reply = await fetch(`${test.url("app4")}/Message/${published.body.id}`);
        await reply.body?.cancel();
        return reply.status === 200 || undefined;
      });
      for (const service of API_SERVICES) {
        const text = await (await fetch(`${test.url(service)}/metrics`)).text();
        await assertPromtoolAccepts(text, service);
      }
    } finally {
      await test.stop();
    }
  },
});

Deno.test({
  name: "generated bad input gets a 4xx with a JSON error on every endpoint, never a 5xx",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const test = await startTestHost({ services: API_SERVICES });
    try {
      const urls = { app1: test.url("app1"), app3: test.url("app3"), app4: test.url("app4") };
      const cases = badRequests(urls, 64 * 1024);
      assert.ok(cases.length >= 300, `only ${cases.length} cases`);
      const failures: string[] = [];
      for (let i = 0; i < cases.length; i += 16) {
        await Promise.all(
          cases.slice(i, i + 16).map(async (bad) => {
            const response = await fetch(bad.url, bad.init);
            const text = await response.text();
            let error: unknown;
            try {
              error = JSON.parse(text).error;
            } catch {
              error = undefined;
            }
            const where = `${bad.init.method} ${
              new URL(bad.url).pathname.slice(0, 40)
            } ${bad.name}`;
            if (response.status < 400 || response.status >= 500) {
              failures.push(`${where}: ${response.status} ${text.slice(0, 120)}`);
            } else if (bad.jsonError && (typeof error !== "string" || error === "")) {
              failures.push(
                `${where}: ${response.status} without a JSON error: ${text.slice(0, 80)}`,
              );
            } else if (bad.expect && response.status !== bad.expect.status) {
              failures.push(`${where}: ${response.status}, expected ${bad.expect.status}`);
            } else if (
              bad.expect?.allow?.some((method) =>
                !(response.headers.get("allow") ?? "").split(", ").includes(method)
              )
            ) {
              failures.push(`${where}: Allow ${response.headers.get("allow")}`);
            }
          }),
        );
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases`);
      for (const service of API_SERVICES) {
        assert.equal(
          (await fetch(`${test.url(service)}/healthz`).then((r) => r.text())).length > 0,
          true,
        );
        const metrics = await (await fetch(`${test.url(service)}/metrics`)).text();
        assert.doesNotMatch(
          metrics,
          /http_server_request_duration_seconds_count\{[^}]*http_response_status_code="5\d\d"/,
          `${service} served a 5xx`,
        );
      }
    } finally {
      await test.stop();
    }
  },
});

const UNUSUAL_BUT_VALID = [
  "'; drop table messages; --",
  "$1 $2 \\x00 ' \" ` ; -- /* */",
  "Robert'); DELETE FROM messages WHERE ('1'='1",
  "emoji 👋🏽 and RTL שלום and CJK 漢字",
  "line\nbreaks\r\nand\ttabs",
  "a".repeat(10_000),
  '{"json": "inside"}',
  "message:* KEYS * FLUSHALL",
];

testEachBackend("unusual but valid content round-trips exactly", async (suite) => {
  const test = await startTestHost({ env: suite.env, services: API_SERVICES });
  try {
    for (const content of UNUSUAL_BUT_VALID) {
      const stored = await postJson(`${test.url("app1")}/Message`, { content });
      assert.equal(stored.status, 201, JSON.stringify(stored.body));
      const row = await getJson(`${test.url("app3")}/Message/${stored.body.id}`);
      assert.equal(row.body.content, content);
      const published = await postJson(`${test.url("app1")}/Message/Post-Message`, { content });
      assert.equal(published.status, 202);
      const cached = await waitFor("the message in app4's cache", async () => {
        const reply = await getJson(`${test.url("app4")}/Message/${published.body.id}`);
        return reply.status === 200 ? reply.body : undefined;
      });
      assert.equal(cached.content, content);
    }
    // The table survived every attempt at injection.
    const again = await postJson(`${test.url("app1")}/Message`, { content: "still here" });
    assert.equal(again.status, 201);
  } finally {
    await test.stop();
  }
});
