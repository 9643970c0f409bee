/**
 * The executor's cron function for the Kafka path: `POST /Message/Post-Message` on app1.
 * @module
 */
import type { CronFunction } from "../../runtime/mod.ts";
import { callApp1 } from "./call_app1.ts";
import type { ExecutorConfig } from "./settings.ts";

/** Calls app1 `POST /Message/Post-Message` on every tick. */
export const callPostMessage: CronFunction<never, ExecutorConfig> = {
  name: "call-post-message",
  schedule: (config) => config.schedule,
  run: (ctx) => callApp1(ctx, "/Message/Post-Message"),
};
