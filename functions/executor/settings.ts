/**
 * What the executor reads from the environment.
 * @module
 */
import { cronSetting, serviceUrlSetting, type SettingValues } from "../../runtime/mod.ts";

/** The executor's settings. */
export const settings = {
  /** `EXECUTOR_SCHEDULE`: when both cron functions run (every 5 s by default). */
  schedule: cronSetting("EXECUTOR_SCHEDULE", "*/5 * * * * *"),
  /** `EXECUTOR_TARGET`: the app1 it calls (`APP1_URL`, this host's app1, else localhost:8001). */
  target: serviceUrlSetting("EXECUTOR_TARGET", "app1"),
};
/** Their values, as the executor's functions see them in `ctx.config`. */
export type ExecutorConfig = SettingValues<typeof settings>;
