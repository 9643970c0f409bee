/**
 * app4: consumes `Purchase2` (group `app4`) into Redis and shows a cached message
 * (`GET /Message/:id`).
 * @module
 */
import { Hono } from "hono";
import { defineService } from "../../runtime/mod.ts";
import { cacheMessage } from "./cache_message.ts";
import { getMessage } from "./get_message.ts";
import { settings } from "./settings.ts";

/** The app4 service. */
export const app4 = defineService({
  name: "app4",
  port: 8004,
  uses: ["redis"],
  settings,
  consumers: [cacheMessage],
  http: (ctx) => new Hono().get("/Message/:id", getMessage(ctx)),
});
