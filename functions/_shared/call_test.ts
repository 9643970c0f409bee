import assert from "node:assert/strict";
import { Hono } from "hono";
import { DependencyUnavailableError } from "../../runtime/mod.ts";
import type { BaseContext } from "../../runtime/mod.ts";
import { postJson, relay } from "./call.ts";

const context = (fetchImpl: typeof fetch) =>
  ({ service: "app1", config: {}, log: console, fetch: fetchImpl }) as unknown as BaseContext;

Deno.test("postJson: a callee that cannot be reached is DependencyUnavailableError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(
    postJson(context(fetch), "app3", `http://127.0.0.1:${port}/PostMessage`, {}),
    (error) => error instanceof DependencyUnavailableError && error.dependency === "app3",
  );
});

Deno.test("postJson: any other error is thrown as it is, not taken for an outage", async () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'headers')");
  await assert.rejects(
    postJson(context(() => Promise.reject(bug)), "app3", "http://app3/PostMessage", {}),
    (error) => error === bug,
  );
});

Deno.test("relay: a redirect from the callee is a 502, not passed on", async () => {
  const app = new Hono().post("/", (c) => relay(c, "app3", { status: 307, body: {} }));
  const response = await app.request("/", { method: "POST" });
  assert.equal(response.status, 502);
  assert.match((await response.json()).error, /app3 answered 307 \(a redirect, not followed\)/);
});
