/**
 * The public face of the runtime for functions: the function model and the errors that steer it.
 * Functions import from here only, never from the host's internals.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { defineService, PermanentError } from "./mod.ts";
 *
 * export const echo = defineService({
 *   name: "echo",
 *   port: 8010,
 *   uses: [],
 *   http: () => new Hono().post("/echo", async (c) => c.json(await c.req.json())),
 * });
 * if (!echo.http) throw new PermanentError("echo has no HTTP functions");
 * ```
 * @module
 */
export * from "./function.ts";
export { cronSetting, integerSetting, serviceUrlSetting, type Setting } from "./settings.ts";
export {
  DependencyMisconfiguredError,
  DependencyUnavailableError,
  isConnectionFailure,
  PermanentError,
} from "./errors.ts";
