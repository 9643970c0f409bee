import assert from "node:assert/strict";
import { delay, waitFor } from "../../testing/wait.ts";
import { type BatcherOptions, BoundedBatcher, type DropReason, exportsBehind } from "./batcher.ts";

/** A batcher over a recording exporter; `answer` decides each export's outcome. */
function recording(
  options: Partial<BatcherOptions<number>> = {},
  answer: (batch: number[]) => Promise<boolean> = () => Promise.resolve(true),
) {
  const batches: number[][] = [];
  const drops: Array<[number, DropReason]> = [];
  const batcher = new BoundedBatcher<number>({
    exportBatch: (items) => {
      batches.push([...items]);
      return answer(items);
    },
    onDrop: (count, reason) => drops.push([count, reason]),
    ...options,
  });
  const dropped = (reason: DropReason) =>
    drops.filter(([, why]) => why === reason).reduce((sum, [count]) => sum + count, 0);
  return { batcher, batches, drops, dropped };
}

/** An export that stays open until `release` is called with its outcome. */
function gate() {
  let release: (ok: boolean) => void = () => {};
  const opened: Array<Promise<boolean>> = [];
  return {
    answer: () => {
      const promise = new Promise<boolean>((resolve) => release = resolve);
      opened.push(promise);
      return promise;
    },
    release: (ok = true) => release(ok),
    opened,
  };
}

Deno.test("BoundedBatcher: a full batch is exported at once, without waiting for the delay", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 3, delayMs: 60_000 });
  try {
    batcher.add(1);
    batcher.add(2);
    assert.equal(batches.length, 0);
    batcher.add(3);
    assert.deepEqual(batches, [[1, 2, 3]], "the full batch goes out as it fills");
    await delay(5);
    batcher.add(4);
    await delay(20);
    assert.equal(batches.length, 1, "a partial batch waits for the delay or a flush");
    await batcher.flush();
    assert.deepEqual(batches, [[1, 2, 3], [4]]);
  } finally {
    await batcher.shutdown(100);
  }
});

Deno.test("BoundedBatcher: items queued during an export go out in batches of at most the size", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 3, delayMs: 60_000 }, async () => {
    await delay(5);
    return true;
  });
  try {
    for (const item of [1, 2, 3, 4, 5, 6, 7]) batcher.add(item);
    await waitFor("three batches", () => batches.length === 3, 1000);
    assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7]]);
  } finally {
    await batcher.shutdown(100);
  }
});

Deno.test("BoundedBatcher: a partial batch is exported after the delay", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 100, delayMs: 40 });
  const started = performance.now();
  batcher.add(1);
  batcher.add(2);
  await delay(15);
  assert.equal(batches.length, 0, "exported before the delay");
  await waitFor("the delayed batch", () => batches.length === 1, 1000);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 30, `exported after ${elapsed} ms`);
  assert.deepEqual(batches, [[1, 2]]);
  // The next item starts a new delay.
  batcher.add(3);
  await waitFor("the second delayed batch", () => batches.length === 2, 1000);
  assert.deepEqual(batches[1], [3]);
  await batcher.shutdown(100);
});

Deno.test("BoundedBatcher: a full queue drops new items and counts them as queue_full", async () => {
  const exporter = gate();
  const { batcher, batches, dropped } = recording(
    { maxQueueSize: 3, maxBatchSize: 2, delayMs: 60_000 },
    exporter.answer,
  );
  batcher.add(1);
  batcher.add(2); // a full batch: in flight, out of the queue
  await waitFor("the first export", () => batches.length === 1, 500);
  for (const item of [3, 4, 5, 6, 7]) batcher.add(item); // 3, 4, 5 fit; 6 and 7 do not
  assert.equal(dropped("queue_full"), 2);
  exporter.release(true);
  await waitFor("the queued batches", () => batches.length === 2, 500);
  exporter.release(true);
  await waitFor("the last batch", () => batches.length === 3, 500);
  exporter.release(true);
  await batcher.flush();
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  assert.equal(dropped("queue_full"), 2);
  assert.equal(dropped("export_failed"), 0);
  await batcher.shutdown(100);
});

Deno.test("BoundedBatcher: a failed export counts its items as export_failed and goes on", async () => {
  let calls = 0;
  const { batcher, batches, dropped } = recording(
    { maxBatchSize: 2, delayMs: 60_000 },
    () => {
      calls++;
      if (calls === 1) return Promise.resolve(false);
      if (calls === 2) return Promise.reject(new Error("socket hang up"));
      return Promise.resolve(true);
    },
  );
  for (const item of [1, 2, 3, 4, 5]) batcher.add(item);
  await batcher.flush();
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  assert.equal(dropped("export_failed"), 4);
  await batcher.shutdown(100);
});

Deno.test("BoundedBatcher: one export at a time, in order", async () => {
  let inFlight = 0;
  let most = 0;
  const { batcher, batches } = recording({ maxBatchSize: 1, delayMs: 60_000 }, async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await delay(5);
    inFlight--;
    return true;
  });
  for (let item = 0; item < 10; item++) batcher.add(item);
  await batcher.flush();
  assert.equal(most, 1, "exports overlapped");
  assert.deepEqual(batches.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await batcher.shutdown(100);
});

Deno.test("BoundedBatcher: flush waits for the export in flight and everything queued", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 2, delayMs: 60_000 }, async () => {
    await delay(10);
    return true;
  });
  for (const item of [1, 2, 3]) batcher.add(item);
  await batcher.flush();
  assert.deepEqual(batches, [[1, 2], [3]]);
  await batcher.flush(); // nothing left: returns at once
  assert.equal(batches.length, 2);
  await batcher.shutdown(100);
});

Deno.test("BoundedBatcher: shutdown exports what is queued when the receiver answers", async () => {
  const { batcher, batches, drops } = recording({ maxBatchSize: 10, delayMs: 60_000 });
  batcher.add(1);
  batcher.add(2);
  await batcher.shutdown(1000);
  assert.deepEqual(batches, [[1, 2]]);
  assert.deepEqual(drops, []);
});

Deno.test("BoundedBatcher: shutdown gives up at its deadline and counts the rest", async () => {
  const exporter = gate();
  const { batcher, batches, dropped } = recording(
    { maxBatchSize: 2, delayMs: 60_000 },
    exporter.answer,
  );
  for (const item of [1, 2, 3, 4, 5]) batcher.add(item); // [1, 2] in flight, 3..5 queued
  await waitFor("the first export", () => batches.length === 1, 500);
  const started = performance.now();
  await batcher.shutdown(50);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 45 && elapsed < 1000, `shutdown took ${elapsed} ms`);
  assert.equal(dropped("shutdown_timeout"), 3);
  // Closed: new items are dropped and counted, not queued.
  batcher.add(6);
  assert.equal(dropped("already_shutdown"), 1);
  exporter.release(true);
  await delay(10);
  assert.deepEqual(batches, [[1, 2]], "nothing is exported after shutdown gave up");
});

Deno.test("BoundedBatcher: exportsBehind while an accepted export queue is over half full, never toward a failing receiver", async () => {
  const exports = gate();
  const { batcher } = recording(
    { maxQueueSize: 40, maxBatchSize: 10, delayMs: 60_000 },
    exports.answer,
  );
  for (let i = 0; i < 10; i++) batcher.add(i); // a full batch: its export starts and stays open
  for (let i = 0; i < 20; i++) batcher.add(i);
  assert.equal(exportsBehind(), false, "half full is not behind");
  batcher.add(99);
  assert.equal(exportsBehind(), true, "over half full while exports are accepted");
  exports.release(true); // the rest goes out in full batches, each answered at once from now on
  await waitFor("the next export", () => exports.opened.length === 2);
  exports.release(true);
  await waitFor("caught up", () => !exportsBehind());

  // A receiver that fails: the queue fills, but nothing waits for it.
  const failing = gate();
  const down = recording({ maxQueueSize: 40, maxBatchSize: 10, delayMs: 60_000 }, failing.answer);
  for (let i = 0; i < 10; i++) down.batcher.add(i);
  failing.release(false);
  await waitFor("the failed export is counted", () => down.dropped("export_failed") === 10);
  for (let i = 0; i < 35; i++) down.batcher.add(i);
  assert.equal(exportsBehind(), false, "no back-pressure toward a receiver that fails");
  failing.release(false);
  await batcher.shutdown(100);
  await down.batcher.shutdown(100);
  assert.equal(exportsBehind(), false);
});
