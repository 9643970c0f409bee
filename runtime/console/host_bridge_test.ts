import assert from "node:assert/strict";
import { ActionError } from "./app.ts";
import { hostActions, type HostedService, hostFunctions } from "./host_bridge.ts";

function service(url: string, overrides: Partial<HostedService> = {}): HostedService {
  return { service: "app1", url, http: [], consumers: [], crons: [], ...overrides };
}

Deno.test({
  name: "invoke: calls the service with a fresh traceparent and passes its answer on",
  sanitizeResources: false,
  fn: async () => {
    let seen:
      | { method: string; path: string; traceparent: string | null; body: string }
      | undefined;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      seen = {
        method: req.method,
        path: new URL(req.url).pathname,
        traceparent: req.headers.get("traceparent"),
        body: await req.text(),
      };
      return Response.json({ id: "m-1" }, { status: 201 });
    });
    try {
      const actions = hostActions([service(`http://127.0.0.1:${server.addr.port}`)]);
      const result = await actions.invoke("app1", {
        method: "POST",
        path: "/Message",
        body: { content: "hi" },
      });
      assert.equal(result.status, 201);
      assert.deepEqual(result.body, { id: "m-1" });
      assert.equal(seen?.method, "POST");
      assert.equal(seen?.path, "/Message");
      assert.equal(seen?.body, '{"content":"hi"}');
      assert.match(seen!.traceparent!, new RegExp(`^00-${result.traceId}-[0-9a-f]{16}-01$`));
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test("invoke: unknown services 404; paths leaving the service 400; nobody listening 502", async () => {
  const actions = hostActions([service("http://127.0.0.1:1")]);
  const status = (promise: Promise<unknown>) =>
    promise.then(() => 200, (error) => error instanceof ActionError ? error.status : 500);
  assert.equal(await status(actions.invoke("nope", { method: "GET", path: "/" })), 404);
  for (const path of ["/\\evil.example/x", "/\\\\evil.example"]) {
    assert.equal(await status(actions.invoke("app1", { method: "GET", path })), 400, path);
  }
  assert.equal(await status(actions.invoke("app1", { method: "GET", path: "/healthz" })), 502);
});

Deno.test("runCron: the run's trace id; 409 while it runs; 404 for an unknown cron", async () => {
  let running = false;
  const actions = hostActions([service("http://127.0.0.1:1", {
    crons: [{
      name: "tick",
      schedule: "* * * * * *",
      nextRun: () => new Date(5000),
      runNow: () => running ? undefined : (running = true, { traceId: "a".repeat(32) }),
    }],
  })]);
  assert.deepEqual(await actions.runCron("app1", "tick"), { traceId: "a".repeat(32) });
  await assert.rejects(actions.runCron("app1", "tick"), (e: ActionError) => e.status === 409);
  await assert.rejects(actions.runCron("app1", "nope"), (e: ActionError) => e.status === 404);
  const [info] = hostFunctions([service("http://127.0.0.1:8001", {
    crons: [{
      name: "tick",
      schedule: "* * * * * *",
      nextRun: () => new Date(5000),
      runNow: () => undefined,
    }],
  })])();
  assert.equal(info.port, 8001);
  assert.deepEqual(info.crons, [{ name: "tick", schedule: "* * * * * *", nextRun: 5000 }]);
});
