/**
 * The HTTP function that publishes a message to a topic and answers 202 with where it went,
 * shared by app1 (`Purchase`) and app3 (`Purchase2`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { publishTo } from "./publish.ts";
 * // new Hono().post("/Message/Post-Message", publishTo(ctx, "Purchase"));
 * // publishTo(ctx, "Purchase2", { failureFlag: "app3PublishFailure" });
 * ```
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { failSomeCalls } from "./faults.ts";
import { readMessage } from "./message.ts";

/** Options of {@linkcode publishTo}. */
export interface PublishOptions {
  /** A 0..1 fault flag: that share of publishes fails (500), as a failing broker write would. */
  readonly failureFlag?: string;
}

/** A handler publishing the request's message to `topic`, keyed by its id. */
export function publishTo(
  ctx: FunctionContext<"kafka">,
  topic: string,
  options: PublishOptions = {},
): Handler {
  return async (c) => {
    const input = await readMessage(c, { idRequired: false });
    if (input instanceof Response) return input;
    const id = input.id ?? crypto.randomUUID();
    if (options.failureFlag) {
      await failSomeCalls(ctx, options.failureFlag, `publishing to ${topic}`);
    }
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
