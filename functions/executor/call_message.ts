/**
 * The executor's cron function for the PostgreSQL path: `POST /Message` on app1.
 * @module
 */
import type { CronFunction } from "../../runtime/mod.ts";
import { callApp1 } from "./call_app1.ts";
import type { ExecutorConfig } from "./settings.ts";

/** Calls app1 `POST /Message` on every tick. */
export const callMessage: CronFunction<never, ExecutorConfig> = {
  name: "call-message",
  schedule: (config) => config.schedule,
  run: (ctx) => callApp1(ctx, "/Message"),
};
