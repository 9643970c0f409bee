import assert from "node:assert/strict";
import {
  formatClock,
  formatCount,
  formatDuration,
  formatRate,
  formatRelative,
  niceTicks,
  serviceColor,
  shortId,
} from "./_format.ts";

Deno.test("durations are humanised in µs, ms, s and minutes", () => {
  assert.equal(formatDuration(0), "0 ms");
  assert.equal(formatDuration(0.42), "420 µs");
  assert.equal(formatDuration(0.0123), "12.3 µs");
  assert.equal(formatDuration(3.14159), "3.14 ms");
  assert.equal(formatDuration(12.3456), "12.3 ms");
  assert.equal(formatDuration(123.456), "123 ms");
  assert.equal(formatDuration(999.4), "999 ms");
  assert.equal(formatDuration(1530), "1.53 s");
  assert.equal(formatDuration(12_345), "12.3 s");
  assert.equal(formatDuration(95_000), "1 m 35 s");
  assert.equal(formatDuration(Number.NaN), "–");
});

Deno.test("clock times are local with milliseconds", () => {
  const at = new Date(2026, 10, 30, 9, 5, 7, 42).getTime();
  assert.equal(formatClock(at), "09:05:07.042");
});

Deno.test("relative times, counts, rates and short ids", () => {
  assert.equal(formatRelative(10_000, 13_000), "3 s ago");
  assert.equal(formatRelative(130_000, 10_000), "in 2 m");
  assert.equal(formatCount(1234567), "1\u2009234\u2009567");
  assert.equal(formatRate(0.1666), "0.17/s");
  assert.equal(formatRate(42.4), "42/s");
  assert.equal(shortId("4bf92f3577b34da6a3ce929d0e0e4736"), "4bf92f35");
});

Deno.test("axis ticks are round numbers covering the range", () => {
  assert.deepEqual(niceTicks(35.4), [0, 10, 20, 30]);
  assert.deepEqual(niceTicks(100), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0.9), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(0), [0]);
  for (const max of [0.03, 7, 62.8, 1234, 98765]) {
    const ticks = niceTicks(max);
    assert.ok(ticks.length >= 3 && ticks.length <= 11, `${max}: ${ticks}`);
    assert.ok(ticks.at(-1)! <= max * (1 + 1e-9), `${max}: last tick inside the range`);
  }
});

Deno.test("each of the seed's services keeps its own colour; others get a stable one", () => {
  const seed = ["executor", "app1", "app2", "app3", "app4"].map(serviceColor);
  assert.equal(new Set(seed).size, 5);
  assert.equal(serviceColor("checkout"), serviceColor("checkout"));
  assert.ok(!seed.includes(serviceColor("checkout")));
});
