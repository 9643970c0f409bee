/**
 * app3 `GET /Message/:id`: the stored row, or 404.
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { readId } from "../_shared/message.ts";
import { type MessageRow, toJson } from "./row.ts";

/** The handler of `GET /Message/:id`. */
export function getMessage(ctx: FunctionContext<"postgres">): Handler {
  return async (c) => {
    const id = readId(c);
    if (id instanceof Response) return id;
    const [row] = await ctx.db.query<MessageRow>(
      "select id, content, source, created_at from messages where id = $1",
      [id],
    );
    return row ? c.json(toJson(row)) : c.json({ error: `message ${id} not found` }, 404);
  };
}
