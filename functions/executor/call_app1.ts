/**
 * What both executor functions do: POST a new message to an app1 endpoint.
 * @module
 */
import type { BaseContext } from "../../runtime/mod.ts";
import { postJson, succeeded } from "../_shared/call.ts";

/** POSTs a fresh message to `path` on the executor's target; throws unless app1 accepted it. */
export async function callApp1(ctx: BaseContext, path: string): Promise<void> {
  const reply = await postJson(ctx, "app1", `${ctx.config.executorTarget}${path}`, {
    content: `Hello from the executor at ${new Date().toISOString()}`,
  });
  if (!succeeded(reply)) throw new Error(`app1 ${path} answered ${reply.status}`);
  ctx.log.info("message sent", { path, message_id: reply.body.id });
}
