/**
 * `deno task start` / `deno task dev`: loads the configuration, starts the host with the seed's
 * services, and stops it cleanly on SIGINT or SIGTERM (exit 0). Bad configuration exits 2 with
 * every problem listed.
 *
 * @example
 * ```sh
 * deno task start --service app1,app3
 * ```
 * @module
 */
import { services } from "../functions/mod.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { startHost } from "./host.ts";
import { errorType } from "./errors.ts";
import { createLogger, flushStdout, writeStdout } from "./log.ts";

function fail(message: string, code: number): never {
  writeStdout(
    JSON.stringify({
      time: new Date().toISOString(),
      level: "error",
      service: "host",
      message,
    }),
    true,
  );
  Deno.exit(code);
}

let config;
try {
  config = loadConfig(Deno.env.toObject(), Deno.args);
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 2);
  throw error;
}

// A stray rejection in some client library must not take every service down with it.
const log = createLogger({ service: "host", level: config.logLevel });
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  log.error("unhandled promise rejection", { error_type: errorType(event.reason) });
});

// An uncaught exception still ends the process, but not before the log lines queued before it.
globalThis.addEventListener("error", () => flushStdout());

let host;
try {
  host = await startHost(config, services);
} catch (error) {
  fail(`host failed to start: ${(error as Error).message}`, 1);
}

let signals = 0;
const onSignal = async () => {
  if (++signals > 1) Deno.exit(130); // a second signal means: do not wait
  await host.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);
