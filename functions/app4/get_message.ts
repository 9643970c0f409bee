/**
 * app4 `GET /Message/:id`: what app4 cached, or 404.
 * @module
 */
import type { Handler } from "hono";
import type { FunctionContext } from "../../runtime/mod.ts";
import { readId } from "../_shared/message.ts";
import { cacheKey } from "./key.ts";
import type { App4Config } from "./settings.ts";

/** The handler of `GET /Message/:id`. */
export function getMessage(ctx: FunctionContext<"redis", App4Config>): Handler {
  return async (c) => {
    const id = readId(c);
    if (id instanceof Response) return id;
    const cached = await ctx.cache.get<Record<string, unknown>>(cacheKey(id));
    return cached ? c.json(cached) : c.json({ error: `message ${id} not cached` }, 404);
  };
}
