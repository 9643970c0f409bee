/**
 * Runs cron functions on croner schedules. Each run is a FaaS invocation: the SERVER root span
 * of its own trace (`faas.trigger=timer`, `faas.invocation_id`, `faas.coldstart` on the first
 * run in this host), measured in `faas_invoke_duration_seconds` and counted in
 * `faas_invocations_total` or `faas_errors_total`. A run never overlaps the previous one
 * (croner's `protect`): a tick that comes while a run is still going is skipped and logged,
 * not queued.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { startCron } from "./cron.ts";
 * // const job = startCron({ fn, ctx, telemetry, schedule: "*\/5 * * * * *" });
 * // await job.stop();
 * ```
 * @module
 */
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { Cron } from "croner";
import { errorType } from "./errors.ts";
import type { CronFunction, FunctionContext } from "./function.ts";
import type { ServiceTelemetry } from "./telemetry/provider.ts";
import { observe } from "./telemetry/metrics.ts";
import { recordError } from "./telemetry/span.ts";

/** A scheduled cron function. */
export interface CronJob {
  /** When the next run is due, if any. */
  nextRun(): Date | null;
  /**
   * Starts a run now, outside the schedule, and returns its trace id; undefined (nothing
   * started) while a run is still going, as a scheduled tick would be skipped.
   */
  runNow(): { traceId: string } | undefined;
  /** Stops scheduling and waits for the run in progress. */
  stop(): Promise<void>;
}

/** What {@linkcode startCron} needs. */
export interface CronOptions {
  readonly fn: CronFunction;
  readonly ctx: FunctionContext;
  readonly telemetry: ServiceTelemetry;
  readonly schedule: string;
}

/** Schedules `fn`. */
export function startCron(options: CronOptions): CronJob {
  const { fn, ctx, telemetry, schedule } = options;
  const { metrics, tracer } = telemetry;
  const labels = { faas_trigger: "timer", faas_name: fn.name };
  // Counters start at 0, so the first failure is an increase an alert can see.
  metrics.faasInvocations.inc(labels, 0);
  metrics.faasErrors.inc(labels, 0);
  let running: Promise<void> | undefined;
  let cold = true;

  /** Starts the run's span at once (so its trace id is known) and runs the function. */
  const run = (scheduledAt: Date): { traceId: string; done: Promise<void> } => {
    const started = performance.now();
    const span = tracer.startSpan(fn.name, {
      kind: SpanKind.SERVER,
      root: true,
      attributes: {
        "faas.trigger": "timer",
        "faas.name": fn.name,
        "faas.invocation_id": crypto.randomUUID(),
        "faas.coldstart": cold,
        "faas.cron": schedule,
        "faas.time": scheduledAt.toISOString(),
      },
    }, ROOT_CONTEXT);
    return { traceId: span.spanContext().traceId, done: finish(span, started) };
  };

  const finish = async (span: ReturnType<typeof tracer.startSpan>, started: number) => {
    if (cold) metrics.faasColdstarts.inc(labels);
    cold = false;
    let failed = false;
    try {
      await context.with(trace.setSpan(ROOT_CONTEXT, span), () => fn.run(ctx));
    } catch (error) {
      failed = true;
      recordError(span, error);
      context.with(
        trace.setSpan(ROOT_CONTEXT, span),
        () =>
          ctx.log.warn("cron run failed", {
            function: fn.name,
            error_type: errorType(error),
            error: error as Error,
          }),
      );
    } finally {
      span.end();
      (failed ? metrics.faasErrors : metrics.faasInvocations).inc(labels);
      observe(metrics.faasInvokeDuration, labels, (performance.now() - started) / 1000, span);
    }
  };

  const skipped = () => {
    ctx.log.warn("cron run skipped: the previous run is still going", { function: fn.name });
  };
  const job = new Cron(schedule, { protect: skipped }, () => {
    // A run started with runNow() is not croner's to know about.
    if (running !== undefined) return skipped();
    running = run(new Date()).done.finally(() => running = undefined);
    return running;
  });

  return {
    nextRun: () => job.nextRun(),
    runNow() {
      if (running !== undefined || job.isBusy()) return undefined;
      const { traceId, done } = run(new Date());
      running = done.finally(() => running = undefined);
      return { traceId };
    },
    async stop() {
      job.stop();
      await running;
    },
  };
}
