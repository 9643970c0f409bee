/**
 * `deno task console`: the console alone, as a local OTLP viewer for any application. Point an
 * OpenTelemetry SDK at it (`OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:8000`, protobuf or
 * JSON) and open the URL it prints. Settings: `CONSOLE_HOST`, `CONSOLE_PORT`, `CONSOLE_TOKEN`,
 * `CONSOLE_MAX_TRACES`, `CONSOLE_MAX_LOGS`, as for the host.
 *
 * @example
 * ```sh
 * deno task console
 * OTEL_DENO=true OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:8000 deno run -A app.ts
 * ```
 * @module
 */
import { ConfigError, loadConfig } from "../config.ts";
import { createLogger, flushStdout } from "../log.ts";
import type { PageMount } from "./app.ts";
import { mountPages } from "./pages/mod.ts";
import { serveConsole } from "./server.ts";
import { ConsoleStore } from "./store.ts";

/** Runs the console until SIGINT or SIGTERM; returns the exit code. */
export async function runConsole(
  env: Readonly<Record<string, string | undefined>>,
  pages: PageMount = mountPages(),
): Promise<number> {
  const log = createLogger({ service: "console", level: "info" });
  let config;
  try {
    // The console is always on here, whatever CONSOLE says.
    config = loadConfig({ ...env, CONSOLE: "on", SERVICES: undefined }).console;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error(error.message);
    return 2;
  }
  const store = new ConsoleStore({ maxTraces: config.maxTraces, maxLogs: config.maxLogs });
  let server;
  try {
    server = serveConsole({
      store,
      hostname: config.hostname,
      port: config.port,
      token: config.token,
      pages,
    });
  } catch (error) {
    log.error(`console not started: ${(error as Error).message}`, {
      host: config.hostname,
      port: config.port,
    });
    return 1;
  }
  log.info(`console at ${server.url}`, {
    otlp: server.endpoint,
    hint: `OTEL_EXPORTER_OTLP_ENDPOINT=${server.endpoint}`,
    ...(server.token ? { token: server.token } : {}),
  });
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  store.close();
  await server.stop();
  log.info("console stopped");
  flushStdout();
  return 0;
}

if (import.meta.main) Deno.exit(await runConsole(Deno.env.toObject()));
