/**
 * `deno task start` (and the process `deno task dev` restarts): loads the configuration, starts
 * the host with the seed's services, and stops it cleanly on SIGINT or SIGTERM (exit 0; a second
 * Ctrl-C more than a second later exits at once with 130). Bad configuration exits 2 with every
 * problem listed.
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
import { createLogger, flushStdout, writeStdout } from "./log.ts";
import { handleStopSignals, reportUnhandledRejections } from "./process.ts";

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
  config = loadConfig(Deno.env.toObject(), Deno.args, services);
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 2);
  throw error;
}

const log = createLogger({ service: "host", level: config.logLevel, format: config.logFormat });
globalThis.addEventListener("unhandledrejection", reportUnhandledRejections(log));

// An uncaught exception still ends the process, but not before the log lines queued before it.
globalThis.addEventListener("error", () => flushStdout());

// Listening from the start: Ctrl-C while the embedded servers start stops cleanly once they have.
const starting = startHost(config, services);
handleStopSignals({
  log,
  stop: async () => await (await starting.catch(() => undefined))?.stop(),
  exit: (code) => Deno.exit(code),
});
try {
  await starting;
} catch (error) {
  fail(`host failed to start: ${(error as Error).message}`, 1);
}
