/**
 * The executor: two cron functions on `EXECUTOR_SCHEDULE` (every 5 s by default), each
 * starting one trace of the seed's flow.
 * @module
 */
import { defineService } from "../../runtime/mod.ts";
import { callMessage } from "./call_message.ts";
import { callPostMessage } from "./call_post_message.ts";
import { settings } from "./settings.ts";

/** The executor service. */
export const executor = defineService({
  name: "executor",
  port: 8005,
  uses: [],
  settings,
  crons: [callMessage, callPostMessage],
});
