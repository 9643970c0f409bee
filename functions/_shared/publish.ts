/**
 * The HTTP function that publishes a message to a topic and answers 202 with where it went,
 * shared by app1 (`Purchase`) and app3 (`Purchase2`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { publishTo } from "./publish.ts";
 * // new Hono().post("/Message/Post-Message", publishTo(ctx, "Purchase"));
 * ```
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { readMessage } from "./message.ts";

/** A handler publishing the request's message to `topic`, keyed by its id. */
export function publishTo(ctx: FunctionContext<"kafka">, topic: string): Handler {
  return async (c) => {
    const input = await readMessage(c, { idRequired: false });
    if (input instanceof Response) return input;
    const id = input.id ?? crypto.randomUUID();
    const delivery = await ctx.producer.send(topic, {
      key: id,
      value: { id, content: input.content },
    });
    ctx.log.info("message published", {
      message_id: id,
      topic,
      partition: delivery.partition,
      offset: delivery.offset,
    });
    return c.json({ id, ...delivery }, 202);
  };
}
