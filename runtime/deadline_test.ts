import assert from "node:assert/strict";
import { DeadlineError, withDeadline } from "./deadline.ts";

Deno.test("withDeadline: passes through a value that arrives in time", async () => {
  assert.equal(await withDeadline(Promise.resolve(42), 1000), 42);
  const later = new Promise<string>((resolve) => setTimeout(() => resolve("late but ok"), 10));
  assert.equal(await withDeadline(later, 1000), "late but ok");
});

Deno.test("withDeadline: passes through a rejection that arrives in time", async () => {
  const failure = new RangeError("nope");
  await assert.rejects(withDeadline(Promise.reject(failure), 1000), (error) => error === failure);
});

Deno.test("withDeadline: rejects with a DeadlineError named Timeout when too slow", async () => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slow = new Promise((resolve) => timer = setTimeout(resolve, 2000));
  const started = performance.now();
  try {
    await assert.rejects(withDeadline(slow, 30), (error) => {
      assert.ok(error instanceof DeadlineError);
      assert.equal(error.name, "Timeout");
      assert.equal(error.message, "no answer within 30 ms");
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 25 && elapsed < 1000, `took ${elapsed} ms`);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("withDeadline: a promise that never settles still rejects", async () => {
  await assert.rejects(withDeadline(new Promise(() => {}), 5), DeadlineError);
});

// The test sanitizer fails this test if the deadline's timer outlives the settled promise.
Deno.test("withDeadline: clears its timer once the promise settles", async () => {
  await withDeadline(Promise.resolve(), 60_000);
  await withDeadline(Promise.reject(new Error("x")), 60_000).catch(() => {});
});
