/**
 * The executor's cron function for the PostgreSQL path: `POST /Message` on app1.
 * @module
 */
import type { CronFunction } from "../../runtime/mod.ts";
import { callApp1 } from "./call_app1.ts";

/** Calls app1 `POST /Message` on every tick. */
export const callMessage: CronFunction<never> = {
  name: "call-message",
  schedule: (config) => config.executorSchedule,
  run: (ctx) => callApp1(ctx, "/Message"),
};
