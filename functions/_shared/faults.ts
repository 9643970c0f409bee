/**
 * Fault flags as the functions use them: a share of calls that fail, and a delay. An injected
 * failure takes exactly the path the real one would (the same status codes, retries and dead
 * letters); its error type, `InjectedFault`, and the `feature_flag.evaluation` event on the span
 * say which flag caused it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { delayedBy, failSomeCalls } from "./faults.ts";
 * // new Hono().use(delayedBy(ctx, "app1SlowMs"))
 * // await failSomeCalls(ctx, "app3StoreFailure", "storing the message");
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { BaseContext } from "../../runtime/mod.ts";

/** Longest delay a flag may ask for: a minute. */
const MAX_DELAY_MS = 60_000;

/** A failure a fault flag injected. */
export class InjectedFault extends Error {
  constructor(readonly flag: string, what: string) {
    super(`${what} failed: injected by the fault flag ${flag}`);
    this.name = "InjectedFault";
  }
}

/** Throws an {@linkcode InjectedFault} for the share of calls the 0..1 flag `flag` holds. */
export async function failSomeCalls(ctx: BaseContext, flag: string, what: string): Promise<void> {
  const share = await ctx.flags.number(flag);
  if (share > 0 && Math.random() < share) throw new InjectedFault(flag, what);
}

/** Waits as many milliseconds as `flag` holds (at most a minute). */
export async function delayBy(ctx: BaseContext, flag: string): Promise<void> {
  const ms = Math.min(await ctx.flags.number(flag), MAX_DELAY_MS);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The end of each delay lane: callers of one flag wait their turn, one at a time. */
const lanes = new Map<string, Promise<void>>();

/**
 * Waits as many milliseconds as `flag` holds, one caller at a time: like a dependency that serves
 * one request at a time, throughput drops to one per delay however many callers run at once. The
 * flag is read when a caller's turn comes, so switching it off drains the line at once.
 */
export async function delayInLine(ctx: BaseContext, flag: string): Promise<void> {
  if (await ctx.flags.number(flag) <= 0 && !lanes.has(flag)) return;
  const previous = lanes.get(flag) ?? Promise.resolve();
  const mine = previous.then(() => delayBy(ctx, flag));
  lanes.set(flag, mine);
  try {
    await mine;
  } finally {
    if (lanes.get(flag) === mine) lanes.delete(flag);
  }
}

/** Middleware answering every request of an app `flag` milliseconds later. */
export function delayedBy(ctx: BaseContext, flag: string): MiddlewareHandler {
  return async (_c, next) => {
    await delayBy(ctx, flag);
    await next();
  };
}
