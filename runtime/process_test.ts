import assert from "node:assert/strict";
import { memoryTelemetry } from "./_test_util.ts";
import { handleStopSignals, reportUnhandledRejections } from "./process.ts";

/** Stop-signal handling over a fake clock and fake signal delivery. */
function harness(stopResult: () => Promise<void> = () => Promise.resolve()) {
  const telemetry = memoryTelemetry("host");
  const handlers = new Map<Deno.Signal, () => void>();
  const exits: number[] = [];
  let clock = 0;
  let stops = 0;
  const remove = handleStopSignals({
    log: telemetry.log,
    stop: () => {
      stops++;
      return stopResult();
    },
    exit: (code) => exits.push(code),
    listen: (signal, handler) => {
      handlers.set(signal, handler);
      return () => handlers.delete(signal);
    },
    now: () => clock,
  });
  return {
    telemetry,
    exits,
    remove,
    handlers,
    get stops() {
      return stops;
    },
    send(signal: Deno.Signal, atMs: number) {
      clock = atMs;
      handlers.get(signal)!();
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("handleStopSignals: Ctrl-C delivered twice at once (terminal + deno task) is one clean stop", async () => {
  let finish = () => {};
  const h = harness(() => new Promise((resolve) => finish = resolve));
  h.send("SIGINT", 0);
  h.send("SIGINT", 1);
  h.send("SIGTERM", 3); // deno --watch raises both
  h.send("SIGINT", 999);
  assert.equal(h.stops, 1);
  assert.deepEqual(h.exits, [], "nothing exits before the stop finished");
  finish();
  await settle();
  assert.deepEqual(h.exits, [0]);
  const requested = h.telemetry.records.filter((r) => r.message === "stop requested");
  assert.equal(requested.length, 1);
  assert.equal(requested[0].signal, "SIGINT");
});

Deno.test("handleStopSignals: a deliberate second Ctrl-C after the window exits at once with 130", async () => {
  const h = harness(() => new Promise(() => {})); // a stop that hangs
  h.send("SIGINT", 0);
  h.send("SIGINT", 1500);
  await settle();
  assert.equal(h.stops, 1);
  assert.deepEqual(h.exits, [130]);
  assert.ok(
    h.telemetry.records.some((r) => r.level === "warn" && /second stop signal/.test(r.message)),
  );
});

Deno.test("handleStopSignals: SIGTERM stops cleanly; a failed stop exits 1 and says why", async () => {
  const ok = harness();
  ok.send("SIGTERM", 0);
  await settle();
  assert.deepEqual(ok.exits, [0]);
  const failing = harness(() => Promise.reject(new Error("telemetry flush failed")));
  failing.send("SIGTERM", 0);
  await settle();
  assert.deepEqual(failing.exits, [1]);
  const failed = failing.telemetry.records.find((r) => r.message === "stop failed");
  assert.deepEqual(failed?.error, { type: "Error", message: "telemetry flush failed" });
});

Deno.test("handleStopSignals: the returned function removes the listeners", () => {
  const h = harness();
  assert.deepEqual([...h.handlers.keys()].sort(), ["SIGINT", "SIGTERM"]);
  h.remove();
  assert.equal(h.handlers.size, 0);
});

Deno.test("reportUnhandledRejections: logs the error's type and message, cut like every logged error", () => {
  const telemetry = memoryTelemetry("host");
  const report = reportUnhandledRejections(telemetry.log);
  let prevented = 0;
  const event = (reason: unknown) =>
    ({ reason, preventDefault: () => prevented++ }) as unknown as PromiseRejectionEvent;
  report(event(new TypeError("Cannot read properties of undefined (reading 'id')")));
  report(event(Object.assign(new Error("x".repeat(2000)), { code: "ECONNRESET" })));
  report(event("a plain string"));
  report(event({ status: 500 }));
  assert.equal(prevented, 4, "the process keeps running");
  const records = telemetry.records.filter((r) => r.message === "unhandled promise rejection");
  assert.equal(records.length, 4);
  assert.equal(records[0].level, "error");
  assert.equal(records[0].error_type, "TypeError");
  assert.deepEqual(records[0].error, {
    type: "TypeError",
    message: "Cannot read properties of undefined (reading 'id')",
  });
  assert.equal(records[1].error_type, "ECONNRESET");
  assert.equal((records[1].error as { message: string }).message.length, 500);
  assert.deepEqual(records[2].error, { type: "string", message: "a plain string" });
  assert.deepEqual(records[3].error, { type: "object", message: '{"status":500}' });
  assert.ok(!JSON.stringify(records).includes("stack"));
});
