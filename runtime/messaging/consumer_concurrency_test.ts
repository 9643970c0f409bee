import assert from "node:assert/strict";
import { functionContext, memoryTelemetry } from "../_test_util.ts";
import { delay, waitFor } from "../../testing/wait.ts";
import type { IncomingMessage } from "../function.ts";
import type { Batch, BatchControl, BatchHandler, Bus, StoredMessage } from "./bus.ts";
import { runConsumer } from "./consumer.ts";
import { createProducer } from "./producer.ts";

/** A gate a handler waits at until the test opens it. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => open = resolve);
  return { opened, open };
}

interface Run {
  /** Offsets resolved, in the order the consumer resolved them. */
  readonly resolved: string[];
  heartbeats: number;
  running: boolean;
  readonly finished: Promise<void>;
}

/**
 * runConsumer over a bus that hands the test its batch handler, so the test delivers batches of
 * its own making and watches what the consumer resolves.
 */
async function consumerOf(
  handle: (message: IncomingMessage) => Promise<void>,
  concurrency: number,
) {
  let onBatch: BatchHandler | undefined;
  const bus: Bus = {
    clientId: "test",
    send: () => Promise.reject(new Error("no sends in these tests")),
    subscribe(_group, _topic, handler) {
      onBatch = handler;
      return Promise.resolve({ ready: () => true, stop: () => Promise.resolve() });
    },
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const telemetry = memoryTelemetry("app2");
  await runConsumer({
    fn: { name: "f", topic: "Purchase", group: "app2", handle: (message) => handle(message) },
    ctx: functionContext("app2", telemetry.log),
    bus,
    telemetry,
    producer: createProducer(bus, telemetry.tracer, telemetry.metrics),
    maxAttempts: 3,
    backoffMs: 1,
    concurrency,
  });
  return {
    telemetry,
    /** Delivers `keys` as one batch of `partition`, offsets from 100 on. */
    deliver(keys: readonly (string | null)[], partition = 0): Run {
      const messages: StoredMessage[] = keys.map((key, i) => ({
        offset: String(100 + i),
        key,
        value: `{"n":${i}}`,
        headers: {},
        timestamp: String(Date.now()),
      }));
      const batch: Batch = {
        topic: "Purchase",
        partition,
        highWatermark: String(100 + keys.length),
        messages,
      };
      const run = { resolved: [] as string[], heartbeats: 0, running: true } as Run;
      const control: BatchControl = {
        resolveOffset: (offset) => run.resolved.push(offset),
        heartbeat: () => {
          run.heartbeats++;
          return Promise.resolve();
        },
        isRunning: () => run.running,
        isStale: () => false,
      };
      return Object.assign(run, { finished: onBatch!(batch, control) });
    },
  };
}

const n = (message: IncomingMessage) => JSON.parse(message.value).n as number;

Deno.test("runConsumer: one key's messages run one at a time in offset order, other keys alongside", async () => {
  const events: string[] = [];
  let inFlight = 0;
  let most = 0;
  const consumer = await consumerOf(async (message) => {
    inFlight++;
    most = Math.max(most, inFlight);
    events.push(`start ${message.key} ${n(message)}`);
    await delay(15);
    events.push(`end ${message.key} ${n(message)}`);
    inFlight--;
  }, 8);
  const keys = ["a", "b", "a", "c", "a", "b", null, null];
  const run = consumer.deliver(keys);
  await run.finished;
  for (const key of ["a", "b"]) {
    const mine = events.filter((event) => event.split(" ")[1] === key);
    const expected = keys.flatMap((k, i) =>
      k === key ? [`start ${key} ${i}`, `end ${key} ${i}`] : []
    );
    assert.deepEqual(mine, expected, `key ${key}: in order, never two at once`);
  }
  assert.ok(most >= 4, `different keys ran alongside (at most ${most} at once)`);
  assert.equal(run.resolved.at(-1), "107", "the whole batch is resolved at the end");
});

Deno.test("runConsumer: an offset is resolved only when every message before it is done", async () => {
  const first = gate();
  const handled: number[] = [];
  const consumer = await consumerOf(async (message) => {
    if (n(message) === 0) await first.opened;
    handled.push(n(message));
  }, 8);
  const run = consumer.deliver(["k0", "k1", "k2", "k3"]);
  await waitFor("the later messages", () => handled.length === 3);
  assert.deepEqual(handled, [1, 2, 3], "later messages finished first");
  assert.deepEqual(run.resolved, [], "nothing is resolved past the unfinished first message");
  first.open();
  await run.finished;
  assert.deepEqual(run.resolved, ["103"], "once it is done, the watermark jumps past all four");
});

Deno.test("runConsumer: a slow message holds up neither other keys nor the offsets before it", async () => {
  const slow = gate();
  const handled: number[] = [];
  const consumer = await consumerOf(async (message) => {
    if (message.key === "slow") await slow.opened;
    handled.push(n(message));
  }, 4);
  const run = consumer.deliver(["k0", "k1", "slow", "k3", "k4", "k5", "k6", "slow", "k8"]);
  await waitFor("every other key", () => handled.length === 7);
  assert.deepEqual(handled, [0, 1, 3, 4, 5, 6, 8]);
  assert.deepEqual(run.resolved.at(-1), "101", "resolved up to just before the slow message");
  slow.open();
  await run.finished;
  assert.deepEqual(handled.slice(7), [2, 7], "the slow key's second message after its first");
  assert.equal(run.resolved.at(-1), "108");
});

Deno.test("runConsumer: at most `concurrency` messages at once, across partitions", async () => {
  let inFlight = 0;
  let most = 0;
  const consumer = await consumerOf(async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await delay(5);
    inFlight--;
  }, 3);
  const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
  const runs = [consumer.deliver(keys, 0), consumer.deliver(keys, 1), consumer.deliver(keys, 2)];
  await Promise.all(runs.map((run) => run.finished));
  assert.equal(most, 3);
  for (const run of runs) assert.equal(run.resolved.at(-1), "111");
});

Deno.test("runConsumer: a stopping consumer starts nothing new and resolves only what is done in order", async () => {
  const held = gate();
  const started: number[] = [];
  const consumer = await consumerOf(async (message) => {
    started.push(n(message));
    if (n(message) > 0) await held.opened;
  }, 2);
  const run = consumer.deliver(["k0", "k1", "k2", "k3", "k4"]);
  await waitFor("two messages held", () => started.length === 3);
  run.running = false;
  held.open();
  await run.finished;
  assert.deepEqual(started, [0, 1, 2], "no message started after the stop");
  assert.equal(run.resolved.at(-1), "102", "what was started finished and is resolved");
});

Deno.test("runConsumer: a long batch keeps heartbeating", async () => {
  const consumer = await consumerOf(() => delay(1300), 4);
  const run = consumer.deliver(["k0"]);
  await run.finished;
  assert.ok(run.heartbeats >= 3, `${run.heartbeats} heartbeats during 1.3 s`);
});
