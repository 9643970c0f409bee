/**
 * What app4 reads from the environment.
 * @module
 */
import { integerSetting, type SettingValues } from "../../runtime/mod.ts";

/** app4's settings. */
export const settings = {
  /** `CACHE_TTL_SECONDS`: how long a cached message lives (a day by default). */
  cacheTtlSeconds: integerSetting("CACHE_TTL_SECONDS", 86400, { min: 1, max: 10 * 365 * 86400 }),
};
/** Their values, as app4's functions see them in `ctx.config`. */
export type App4Config = SettingValues<typeof settings>;
