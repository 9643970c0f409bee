/**
 * How the host starts: what it says when it cannot, and what it says about the shape of the
 * process it runs.
 */
import assert from "node:assert/strict";
import { startTestHost } from "./_harness.ts";

Deno.test({
  name: "a taken port fails the start at once, naming the service, the port and the variable",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = taken.addr as Deno.NetAddr;
    const dataDir = await Deno.makeTempDir({ prefix: "otel-functions-test-" });
    const started = performance.now();
    try {
      await assert.rejects(
        startTestHost({ env: { APP3_PORT: String(port) }, services: ["app1", "app3"], dataDir }),
        (error: Error) => {
          assert.equal(
            error.message,
            `app3 cannot listen on 127.0.0.1:${port}: the address is already in use (another ` +
              "host?); stop what listens there or set APP3_PORT (0 picks a free port)",
          );
          return true;
        },
      );
      // Before the embedded PostgreSQL start (seconds), not after it.
      const ms = performance.now() - started;
      assert.ok(ms < 1500, `the clash was reported after ${Math.round(ms)} ms`);
    } finally {
      taken.close();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a process that publishes to a topic nothing in it consumes says so once at start",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const notices = (logs: string[]) =>
      logs.map((line) => JSON.parse(line)).filter((r) => r.topic !== undefined && r.publisher);
    const partial = await startTestHost({ services: ["app1", "app3"] });
    try {
      const said = notices(partial.logs);
      assert.deepEqual(
        said.map((r) => [r.level, r.publisher, r.topic, r.consumers]),
        [["warn", "app3", "Purchase2", ["app4"]], ["warn", "app1", "Purchase", ["app2"]]],
      );
      assert.match(said[1].message, /embedded bus serves this process only/);
    } finally {
      await partial.stop();
    }
    const whole = await startTestHost({ services: ["app1", "app2", "app3", "app4"] });
    try {
      assert.deepEqual(notices(whole.logs), []);
    } finally {
      await whole.stop();
    }
  },
});
