/**
 * Settings a service declares: the environment variable each reads, its type, default and
 * validation. The host reads them all at start and reports every problem at once; a function
 * sees the values, typed, as `ctx.config`.
 *
 * @example
 * ```ts
 * import { integerSetting, readSettings, type SettingValues } from "./settings.ts";
 * const settings = { ttlSeconds: integerSetting("CACHE_TTL_SECONDS", 86400, { min: 1 }) };
 * type Config = SettingValues<typeof settings>;
 * const problems: string[] = [];
 * const resolve = readSettings(settings, { CACHE_TTL_SECONDS: "60" }, problems);
 * const config: Config = resolve(() => "http://127.0.0.1:8001");
 * console.log(config.ttlSeconds, problems); // 60 []
 * ```
 * @module
 */
import { Cron } from "croner";
import { redactUrls } from "./redact.ts";

/** Finds where a service of this application listens (for settings that default to one). */
export type LocateService = (service: string) => string;

/** One setting: the variable it reads and how its text becomes a value. */
export interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  /**
   * Checks `raw` (trimmed; undefined when unset or empty), adding a line to `problems` for each
   * thing wrong with it, and returns how to get the value once the services listen.
   */
  parse(raw: string | undefined, problems: string[]): (locate: LocateService) => T;
}

/** A service's settings, by the name its functions use. */
export type SettingsSpec = Readonly<Record<string, Setting<unknown>>>;

/** The values of a {@linkcode SettingsSpec}, as `ctx.config` holds them. */
export type SettingValues<S extends SettingsSpec> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** An integer in `[min, max]`. */
export function integerSetting(
  env: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): Setting<number> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  return {
    env,
    parse(raw, problems) {
      if (raw === undefined) return () => fallback;
      const value = Number(raw);
      if (!/^\d+$/.test(raw) || value < min || value > max) {
        problems.push(`${env}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      }
      return () => value;
    },
  };
}

/** A croner pattern (seconds field first). */
export function cronSetting(env: string, fallback: string): Setting<string> {
  return {
    env,
    parse(raw, problems) {
      const pattern = raw ?? fallback;
      try {
        new Cron(pattern, { paused: true }).stop();
      } catch (error) {
        problems.push(
          `${env}=${JSON.stringify(pattern)} is not a croner pattern: ${(error as Error).message}`,
        );
      }
      return () => pattern;
    },
  };
}

/**
 * The URL of a service of this application: `env` when set (an http(s) URL), else where
 * `service` is (its `<SERVICE>_URL`, else its URL in this host, else localhost and its port).
 */
export function serviceUrlSetting(env: string, service: string): Setting<string> {
  return {
    env,
    parse(raw, problems) {
      if (raw === undefined) return (locate) => locate(service);
      const url = checkHttpUrl(env, raw, problems);
      return () => url;
    },
  };
}

/** An http:// or https:// URL without trailing slashes; a problem otherwise. */
export function checkHttpUrl(env: string, raw: string, problems: string[]): string {
  let ok = false;
  try {
    const url = new URL(raw);
    ok = ["http:", "https:"].includes(url.protocol) && url.hostname !== "";
  } catch {
    ok = false;
  }
  if (!ok) {
    problems.push(`${env}=${JSON.stringify(redactUrls(raw))} must be an http:// or https:// URL`);
  }
  return raw.replace(/\/+$/, "");
}

/** Reads every setting of `spec` from `env`; the result gives the values once services listen. */
export function readSettings<S extends SettingsSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): (locate: LocateService) => SettingValues<S> {
  const parsed = Object.entries(spec).map(([key, setting]) => {
    const raw = env[setting.env]?.trim();
    return [key, setting.parse(raw === "" ? undefined : raw, problems)] as const;
  });
  return (locate) =>
    Object.fromEntries(parsed.map(([key, value]) => [key, value(locate)])) as SettingValues<S>;
}
