import assert from "node:assert/strict";
import { metricValue } from "./_test_util.ts";
import { DependencyMisconfiguredError } from "./errors.ts";
import { Readiness, reportDependency } from "./health.ts";
import { createMetrics } from "./telemetry/metrics.ts";

const up = () => Promise.resolve();
const refused = () =>
  Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));

Deno.test("Readiness: ready when every check answers", async () => {
  const metrics = createMetrics();
  const readiness = new Readiness({ postgres: up, redis: up }, metrics);
  assert.deepEqual(await readiness.check(), {
    ready: true,
    status: "ready",
    checks: { postgres: "up", redis: "up" },
  });
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "postgres" }), 1);
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "redis" }), 1);
});

Deno.test("Readiness: a service without dependencies is ready", async () => {
  const report = await new Readiness({}, createMetrics()).check();
  assert.deepEqual(report, { ready: true, status: "ready", checks: {} });
});

Deno.test("Readiness: one failing check makes the service unavailable, naming the error", async () => {
  const metrics = createMetrics();
  const readiness = new Readiness({ postgres: up, redis: refused }, metrics);
  const report = await readiness.check();
  assert.equal(report.ready, false);
  assert.equal(report.status, "unavailable");
  assert.deepEqual(report.checks, { postgres: "up", redis: "down: ECONNREFUSED" });
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "redis" }), 0);
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "postgres" }), 1);
});

Deno.test("Readiness: refused credentials are reported as misconfigured, with the reason", async () => {
  const metrics = createMetrics();
  const readiness = new Readiness({
    postgres: () => Promise.reject(new DependencyMisconfiguredError("postgres", "28P01")),
    redis: refused,
  }, metrics);
  const report = await readiness.check();
  assert.equal(report.ready, false);
  assert.equal(report.status, "misconfigured");
  assert.deepEqual(report.checks, {
    postgres: "misconfigured: 28P01",
    redis: "down: ECONNREFUSED",
  });
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "postgres" }), 0);
});

Deno.test("Readiness: a check that hangs is cut off at the deadline", async () => {
  const readiness = new Readiness(
    { kafka: () => new Promise(() => {}), redis: up },
    createMetrics(),
    30,
  );
  const started = performance.now();
  const report = await readiness.check();
  const elapsed = performance.now() - started;
  assert.deepEqual(report.checks, { kafka: "down: Timeout", redis: "up" });
  assert.equal(report.status, "unavailable");
  assert.ok(elapsed >= 25 && elapsed < 1000, `took ${elapsed} ms`);
});

Deno.test("Readiness: checks run at once, not one after the other", async () => {
  const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 100));
  const readiness = new Readiness({ a: slow, b: slow, c: slow }, createMetrics());
  const started = performance.now();
  assert.equal((await readiness.check()).ready, true);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 250, `checks took ${elapsed} ms; they ran in sequence`);
});

Deno.test("Readiness: recovers when the dependency comes back", async () => {
  let down = true;
  const metrics = createMetrics();
  const readiness = new Readiness({ postgres: () => down ? refused() : up() }, metrics);
  assert.equal((await readiness.check()).ready, false);
  down = false;
  assert.equal((await readiness.check()).ready, true);
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "postgres" }), 1);
});

Deno.test("Readiness: a stopping service is not ready even when everything is up", async () => {
  const readiness = new Readiness({ postgres: up }, createMetrics());
  readiness.stop();
  assert.deepEqual(await readiness.check(), {
    ready: false,
    status: "stopping",
    checks: { postgres: "up" },
  });
  const failing = new Readiness({ postgres: refused }, createMetrics());
  failing.stop();
  assert.equal((await failing.check()).status, "stopping");
});

Deno.test("reportDependency: sets dependency_up from the outcome of a call", async () => {
  const metrics = createMetrics();
  reportDependency(metrics, "kafka", false);
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "kafka" }), 0);
  reportDependency(metrics, "kafka", true);
  assert.equal(await metricValue(metrics.registry, "dependency_up", { dependency: "kafka" }), 1);
});
