/**
 * What app2 reads from the environment.
 * @module
 */
import type { SettingValues } from "../../runtime/mod.ts";
import { app3Url } from "../_shared/settings.ts";

/** app2's settings. */
export const settings = { app3Url };
/** Their values, as app2's functions see them in `ctx.config`. */
export type App2Config = SettingValues<typeof settings>;
