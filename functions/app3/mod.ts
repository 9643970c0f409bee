/**
 * app3: stores messages in PostgreSQL (`POST /PostMessage`), publishes them to `Purchase2`
 * (`POST /Message/Post-Message`) and shows a stored one (`GET /Message/:id`). Fault flags:
 * `app3StoreFailure`, `app3PublishFailure`.
 * @module
 */
import { Hono } from "hono";
import { defineService } from "../../runtime/mod.ts";
import { publishTo } from "../_shared/publish.ts";
import { getMessage } from "./get_message.ts";
import { migrations } from "./migrations.ts";
import { storeMessage } from "./store_message.ts";

/** The app3 service. */
export const app3 = defineService({
  name: "app3",
  port: 8003,
  uses: ["postgres", "kafka"],
  migrations,
  publishes: ["Purchase2"],
  http: (ctx) =>
    new Hono()
      .post("/PostMessage", storeMessage(ctx))
      .post(
        "/Message/Post-Message",
        publishTo(ctx, "Purchase2", { failureFlag: "app3PublishFailure" }),
      )
      .get("/Message/:id", getMessage(ctx)),
});
