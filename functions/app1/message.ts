/**
 * app1 `POST /Message`: gives the message an id if it has none and has app3 store it in
 * PostgreSQL (`POST /PostMessage`), answering with what app3 answered.
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { postJson, relay, succeeded } from "../_shared/call.ts";
import { readMessage } from "../_shared/message.ts";
import type { App1Config } from "./settings.ts";

/** The handler of `POST /Message`. */
export function message(ctx: FunctionContext<never, App1Config>): Handler {
  return async (c) => {
    const input = await readMessage(c, { idRequired: false });
    if (input instanceof Response) return input;
    const id = input.id ?? crypto.randomUUID();
    const reply = await postJson(ctx, "app3", `${ctx.config.app3Url}/PostMessage`, {
      id,
      content: input.content,
      source: "app1",
    });
    if (succeeded(reply)) ctx.log.info("message stored by app3", { message_id: id });
    return relay(c, "app3", reply);
  };
}
