/**
 * app1: the entry point the executor calls. `POST /Message` goes to PostgreSQL through app3;
 * `POST /Message/Post-Message` starts the Kafka path on topic `Purchase`. The fault flag
 * `app1SlowMs` makes both answer that many milliseconds later.
 * @module
 */
import { Hono } from "hono";
import { defineService } from "../../runtime/mod.ts";
import { delayedBy } from "../_shared/faults.ts";
import { publishTo } from "../_shared/publish.ts";
import { message } from "./message.ts";
import { settings } from "./settings.ts";

/** The app1 service. */
export const app1 = defineService({
  name: "app1",
  port: 8001,
  uses: ["kafka"],
  publishes: ["Purchase"],
  settings,
  http: (ctx) =>
    new Hono()
      .use(delayedBy(ctx, "app1SlowMs"))
      .post("/Message", message(ctx))
      .post("/Message/Post-Message", publishTo(ctx, "Purchase")),
});
