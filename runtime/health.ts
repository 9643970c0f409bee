/**
 * Readiness: checks each dependency a service uses, with a deadline, and keeps `dependency_up`
 * current. A stopping host reports not ready so load balancers drain it first.
 *
 * @example
 * ```ts
 * import { createMetrics } from "./telemetry/metrics.ts";
 * import { Readiness } from "./health.ts";
 * const readiness = new Readiness({ postgres: () => Promise.resolve() }, createMetrics());
 * const report = await readiness.check();
 * console.log(report.ready, report.checks); // true { postgres: "up" }
 * ```
 * @module
 */
import { withDeadline } from "./deadline.ts";
import { DependencyMisconfiguredError, errorType } from "./errors.ts";
import type { Metrics } from "./telemetry/metrics.ts";

/** Resolves when the dependency answers, rejects when it does not. */
export type Check = () => Promise<void>;

/** The body of `/readyz`. */
export interface ReadinessReport {
  readonly ready: boolean;
  /** `misconfigured` when a dependency refuses the host's credentials (no wait will fix it). */
  readonly status: "ready" | "unavailable" | "misconfigured" | "stopping";
  readonly checks: Record<string, string>;
}

/** The readiness of one service. */
export class Readiness {
  #stopping = false;

  constructor(
    private readonly checks: Record<string, Check>,
    private readonly metrics: Metrics,
    private readonly timeoutMs = 2000,
  ) {}

  /** From now on the service reports `stopping`. */
  stop(): void {
    this.#stopping = true;
  }

  /** Runs every check at once and reports. */
  async check(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]) => {
        const result = await withDeadline(check(), this.timeoutMs).then(
          () => "up",
          (error) =>
            error instanceof DependencyMisconfiguredError
              ? `misconfigured: ${error.reason}`
              : `down: ${errorType(error)}`,
        );
        this.metrics.dependencyUp.set({ dependency: name }, result === "up" ? 1 : 0);
        return [name, result] as const;
      }),
    );
    const checks = Object.fromEntries(entries);
    const allUp = entries.every(([, result]) => result === "up");
    const misconfigured = entries.some(([, result]) => result.startsWith("misconfigured"));
    const status = this.#stopping
      ? "stopping"
      : allUp
      ? "ready"
      : misconfigured
      ? "misconfigured"
      : "unavailable";
    return { ready: status === "ready", status, checks };
  }
}

/** Tells `metrics` whether the last call to `dependency` reached it. */
export function reportDependency(metrics: Metrics, dependency: string, up: boolean): void {
  metrics.dependencyUp.set({ dependency }, up ? 1 : 0);
}
