/**
 * Runs cron functions on croner schedules. Each run is the root span of its own trace
 * (`faas.trigger=timer`); a run never overlaps the previous one (croner's `protect`), and a
 * skipped tick is counted, not queued.
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
  let running: Promise<void> | undefined;

  /** Starts the run's span at once (so its trace id is known) and runs the function. */
  const run = (scheduledAt: Date): { traceId: string; done: Promise<void> } => {
    const started = performance.now();
    const span = tracer.startSpan(fn.name, {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes: {
        "faas.trigger": "timer",
        "faas.name": fn.name,
        "faas.cron": schedule,
        "faas.time": scheduledAt.toISOString(),
      },
    }, ROOT_CONTEXT);
    return { traceId: span.spanContext().traceId, done: finish(span, started) };
  };

  const finish = async (span: ReturnType<typeof tracer.startSpan>, started: number) => {
    let outcome = "success";
    try {
      await context.with(trace.setSpan(ROOT_CONTEXT, span), () => fn.run(ctx));
      metrics.cronLastSuccess.set({ function: fn.name }, Date.now() / 1000);
    } catch (error) {
      outcome = "error";
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
      metrics.cronRuns.inc({ function: fn.name, outcome });
      metrics.cronDuration.observe({ function: fn.name }, (performance.now() - started) / 1000);
    }
  };

  const skipped = () => {
    metrics.cronRuns.inc({ function: fn.name, outcome: "skipped" });
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
