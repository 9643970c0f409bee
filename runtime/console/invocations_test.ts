import assert from "node:assert/strict";
import { span } from "./_fixtures.ts";
import { InvocationSeries } from "./invocations.ts";

const call = (end: number) =>
  span({ service: "app1", name: "POST /Message", kind: "server", start: end - 5, end });

Deno.test("InvocationSeries: a young series' rate covers the time watched, not the whole window", () => {
  const now = Date.now();
  const series = new InvocationSeries();
  for (let i = 30; i >= 1; i--) series.record(call(now - i * 1000));
  const [metrics] = series.overview(now);
  assert.equal(metrics.calls, 30);
  assert.ok(Math.abs(metrics.rate - 1) < 0.05, `rate ${metrics.rate}, expected about 1/s`);
});

Deno.test("InvocationSeries: past the window, the rate is over the window alone", () => {
  const now = Date.now();
  const series = new InvocationSeries({ windowMs: 60_000, bucketMs: 1_000 });
  for (let i = 180; i >= 1; i--) series.record(call(now - i * 1000));
  const [metrics] = series.overview(now);
  assert.ok(metrics.calls >= 59 && metrics.calls <= 61, `calls ${metrics.calls}`);
  assert.ok(Math.abs(metrics.rate - 1) < 0.05, `rate ${metrics.rate}, expected about 1/s`);
});

Deno.test("InvocationSeries: a first call just now is not a burst (at least one bucket watched)", () => {
  const now = Date.now();
  const series = new InvocationSeries({ bucketMs: 10_000 });
  series.record(call(now - 100));
  assert.equal(series.overview(now)[0].rate, 0.1);
});
