/**
 * What both executor functions do: POST a new message to an app1 endpoint, once per tick, or as
 * many times at once as the fault flag `executorBurst` says.
 * @module
 */
import type { BaseContext } from "../../runtime/mod.ts";
import { postJson, succeeded } from "../_shared/call.ts";
import type { ExecutorConfig } from "./settings.ts";

/** Most calls one tick may send, whatever the flag says. */
const MAX_BURST = 1000;

/** POSTs fresh messages to `path` on the executor's target; throws unless app1 accepted all. */
export async function callApp1(ctx: BaseContext<ExecutorConfig>, path: string): Promise<void> {
  const burst = Math.min(
    MAX_BURST,
    Math.max(1, Math.floor(await ctx.flags.number("executorBurst", 1))),
  );
  const results = await Promise.allSettled(
    Array.from({ length: burst }, () => callOnce(ctx, path)),
  );
  const failures = results.filter((result) => result.status === "rejected");
  if (failures.length === 0) return;
  const first = (failures[0] as PromiseRejectedResult).reason;
  if (burst === 1) throw first;
  throw new Error(
    `${failures.length} of ${burst} calls failed; the first: ${(first as Error).message}`,
    {
      cause: first,
    },
  );
}

async function callOnce(ctx: BaseContext<ExecutorConfig>, path: string): Promise<void> {
  const reply = await postJson(ctx, "app1", `${ctx.config.target}${path}`, {
    content: `Hello from the executor at ${new Date().toISOString()}`,
  });
  if (!succeeded(reply)) throw new Error(`app1 ${path} answered ${reply.status}`);
  ctx.log.info("message sent", { path, message_id: reply.body.id });
}
