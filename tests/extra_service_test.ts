/**
 * The host is general: a service written outside runtime/ (here, in this file) names itself,
 * its port and its settings, and runs beside the seed's services with nothing else changed.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { services } from "../functions/mod.ts";
import { ConfigError, loadConfig } from "../runtime/config.ts";
import { startHost } from "../runtime/host.ts";
import {
  cronSetting,
  defineService,
  integerSetting,
  serviceUrlSetting,
  type SettingValues,
} from "../runtime/mod.ts";
import { OtlpReceiver, SpanKind } from "../testing/otlp_receiver.ts";
import { waitFor } from "../testing/wait.ts";

const settings = {
  step: integerSetting("COUNTER_STEP", 1, { min: 1, max: 100 }),
  tick: cronSetting("COUNTER_TICK", "* * * * * *"),
  store: serviceUrlSetting("COUNTER_STORE", "app3"),
};
type CounterConfig = SettingValues<typeof settings>;

let ticks = 0;
/** A sixth service: counts by its step, ticks on its schedule, and reads a message from app3. */
const counter = defineService({
  name: "counter",
  port: 8006,
  uses: ["redis"],
  settings,
  http: (ctx) =>
    new Hono()
      .post("/count", async (c) => {
        const now = ((await ctx.cache.get<number>("counter")) ?? 0) + ctx.config.step;
        await ctx.cache.set("counter", now);
        return c.json({ count: now });
      })
      .get("/store/:id", async (c) => {
        const reply = await ctx.fetch(`${ctx.config.store}/Message/${c.req.param("id")}`);
        return c.json(await reply.json(), reply.status as 200 | 404);
      }),
  crons: [{
    name: "tick",
    schedule: (config: CounterConfig) => config.tick,
    run: () => Promise.resolve(void ticks++),
  }],
});
const all = { ...services, counter };

Deno.test({
  name: "a service defined outside runtime/ runs in the host with its port, settings and name",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const receiver = await OtlpReceiver.start();
    const dataDir = await Deno.makeTempDir();
    const env = {
      HOST: "127.0.0.1",
      COUNTER_PORT: "0",
      APP3_PORT: "0",
      COUNTER_STEP: "5",
      DATA_DIR: dataDir,
      CONSOLE: "off",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    };
    const config = loadConfig(env, ["--service", "counter,app3"], all);
    assert.deepEqual(config.services, ["app3", "counter"], "in the order the services are given");
    const host = await startHost(config, all, { write: () => {} });
    try {
      const counterUrl = host.urls.counter;
      assert.match(counterUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(host.settings.counter, {
        step: 5,
        tick: "* * * * * *",
        store: host.urls.app3,
      });
      for (const expected of [5, 10]) {
        const response = await fetch(`${counterUrl}/count`, { method: "POST" });
        assert.deepEqual(await response.json(), { count: expected });
      }
      const missing = await fetch(`${counterUrl}/store/${crypto.randomUUID()}`);
      assert.equal(missing.status, 404, "app3, found through the setting, answered");
      await missing.body?.cancel();
      const ready = await fetch(`${counterUrl}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual((await ready.json()).checks, { redis: "up" });
      await waitFor("a tick", () => ticks > 0, 5000);
      await waitFor(
        "the counter's spans",
        () =>
          receiver.spans.some((span) =>
            span.service === "counter" && span.kind === SpanKind.SERVER &&
            span.name === "POST /count"
          ),
      );
    } finally {
      await host.stop();
      await receiver.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test("a service's settings are checked at start with the host's, every problem at once", () => {
  try {
    loadConfig(
      { COUNTER_STEP: "0", COUNTER_TICK: "often", COUNTER_PORT: "8003", LOG_LEVEL: "loud" },
      [],
      all,
    );
    assert.fail("loadConfig accepted the bad settings");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'COUNTER_STEP="0" must be an integer from 1 to 100',
      'COUNTER_TICK="often" is not a croner pattern: ' +
      error.problems[1].slice('COUNTER_TICK="often" is not a croner pattern: '.length),
      "app3 and counter cannot both listen on port 8003",
      'LOG_LEVEL="loud" must be one of debug, info, warn, error',
    ]);
  }
  assert.throws(
    () => loadConfig({}, ["--service", "counter"], services),
    /unknown service "counter"; known: app4, app3, app2, app1, executor/,
    "without its definition the host does not know it",
  );
});
