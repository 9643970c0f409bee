/**
 * app3 `POST /PostMessage`: stores the message in PostgreSQL, idempotently on its id: 201 when
 * stored now, 200 when the same message was stored before, 409 when the id holds other content.
 * The fault flag `app3StoreFailure` fails that share of stores with a 500, as a failing database
 * would.
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { failSomeCalls } from "../_shared/faults.ts";
import { readMessage } from "../_shared/message.ts";
import { type MessageRow, toJson } from "./row.ts";

const INSERT = "insert into messages (id, content, source) values ($1, $2, $3) " +
  "on conflict (id) do nothing returning id, content, source, created_at";
const SELECT = "select id, content, source, created_at from messages where id = $1";

/** The handler of `POST /PostMessage`. */
export function storeMessage(ctx: FunctionContext<"postgres">): Handler {
  return async (c) => {
    const input = await readMessage(c, { idRequired: false, allowSource: true });
    if (input instanceof Response) return input;
    const id = input.id ?? crypto.randomUUID();
    await failSomeCalls(ctx, "app3StoreFailure", "storing the message");
    const inserted = await ctx.db.query<MessageRow>(INSERT, [
      id,
      input.content,
      input.source ?? "app3",
    ]);
    if (inserted.length > 0) {
      ctx.log.info("message stored", { message_id: id });
      return c.json(toJson(inserted[0]), 201);
    }
    const [existing] = await ctx.db.query<MessageRow>(SELECT, [id]);
    if (existing === undefined) throw new Error("row vanished between insert and select");
    if (existing.content !== input.content) {
      return c.json({ error: `message ${id} already exists with other content` }, 409);
    }
    return c.json(toJson(existing), 200);
  };
}
