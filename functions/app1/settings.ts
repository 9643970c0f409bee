/**
 * What app1 reads from the environment.
 * @module
 */
import type { SettingValues } from "../../runtime/mod.ts";
import { app3Url } from "../_shared/settings.ts";

/** app1's settings. */
export const settings = { app3Url };
/** Their values, as app1's functions see them in `ctx.config`. */
export type App1Config = SettingValues<typeof settings>;
