import assert from "node:assert/strict";
import { delay } from "../../testing/wait.ts";
import { LingerBatcher, utf8Length } from "./linger.ts";

/** A receiver that records each batch and answers when the test says so. */
function receiver() {
  const batches: string[][] = [];
  const answers: Array<{ ok: () => void; fail: (error: Error) => void }> = [];
  const send = (items: string[]) => {
    batches.push(items);
    return new Promise<string[]>((resolve, reject) =>
      answers.push({ ok: () => resolve(items.map((item) => `stored ${item}`)), fail: reject })
    );
  };
  return { batches, answers, send };
}

Deno.test("LingerBatcher: sends within the linger go out as one request; each caller gets its own result", async () => {
  const { batches, answers, send } = receiver();
  const batcher = new LingerBatcher({ lingerMs: 20, maxMessages: 100, maxBytes: 1 << 20 }, send);
  const first = batcher.add("a", 1);
  await delay(5);
  const second = batcher.add("b", 1);
  const third = batcher.add("c", 1);
  assert.equal(batches.length, 0, "nothing leaves before the linger is over");
  await delay(30);
  assert.deepEqual(batches, [["a", "b", "c"]]);
  let settled = false;
  first.then(() => settled = true);
  await delay(5);
  assert.equal(settled, false, "nobody is answered before the receiver acknowledged");
  answers[0].ok();
  const results = await Promise.all([first, second, third]);
  assert.deepEqual(results.map((r) => r.result), ["stored a", "stored b", "stored c"]);
  assert.ok(results.every((r) => r.batch.messages === 3));
  const waited = results[0].batch.sentAt - results[0].batch.queuedAt;
  assert.ok(waited >= 15 && waited < 200, `the first message lingered ${waited} ms`);
  await batcher.close();
});

Deno.test("LingerBatcher: a failed request fails every caller in it with its error, and only them", async () => {
  const { batches, answers, send } = receiver();
  const batcher = new LingerBatcher({ lingerMs: 0, maxMessages: 100, maxBytes: 1 << 20 }, send);
  const doomed = [batcher.add("a", 1), batcher.add("b", 1)];
  await delay(5);
  const later = batcher.add("c", 1);
  await delay(5);
  assert.deepEqual(batches, [["a", "b"], ["c"]]);
  const failure = new Error("broker not available");
  answers[0].fail(failure);
  answers[1].ok();
  for (const call of doomed) await assert.rejects(call, (error) => error === failure);
  assert.equal((await later).result, "stored c");
  await batcher.close();
});

Deno.test("LingerBatcher: count and byte limits split batches; a full batch does not wait", async () => {
  const { batches, answers, send } = receiver();
  const batcher = new LingerBatcher({ lingerMs: 10_000, maxMessages: 3, maxBytes: 100 }, send);
  const calls = ["a", "b", "c", "d"].map((item) => batcher.add(item, 10));
  assert.deepEqual(batches, [["a", "b", "c"]], "three messages fill a batch at once");
  calls.push(batcher.add("big", 95));
  assert.deepEqual(batches.at(-1), ["d"], "95 more bytes would pass the limit: d goes alone");
  calls.push(batcher.add("huge", 500));
  assert.deepEqual(batches.slice(-2), [["big"], ["huge"]], "a message over the limit goes alone");
  calls.push(batcher.add("small", 1));
  assert.equal(batches.length, 4, "a lone small message waits for its linger");
  const flushed = batcher.flush();
  assert.deepEqual(batches.at(-1), ["small"], "flush sends it at once");
  for (const answer of answers) answer.ok();
  await flushed;
  assert.equal((await Promise.all(calls)).length, 7);
  await batcher.close();
});

Deno.test("LingerBatcher: with the requests in flight at their limit, the rest batches up", async () => {
  const { batches, answers, send } = receiver();
  const batcher = new LingerBatcher(
    { lingerMs: 0, maxMessages: 100, maxBytes: 1 << 20, maxInFlight: 1 },
    send,
  );
  const calls = [batcher.add("a", 1)];
  await delay(2);
  for (const item of ["b", "c", "d"]) calls.push(batcher.add(item, 1));
  await delay(5);
  assert.deepEqual(batches, [["a"]], "one request in flight at a time");
  answers[0].ok();
  await delay(5);
  assert.deepEqual(batches, [["a"], ["b", "c", "d"]]);
  answers[1].ok();
  assert.equal((await Promise.all(calls)).length, 4);
  await batcher.close();
  await assert.rejects(batcher.add("late", 1), /closed/);
});

Deno.test("utf8Length: counts bytes as TextEncoder would", () => {
  const encoder = new TextEncoder();
  for (
    const text of ["", "ascii", "héllo", "€uro", "emoji 😀 pair", "lone \ud800 high", "\udc00"]
  ) {
    assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text));
  }
});
