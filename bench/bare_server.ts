/**
 * The limit: the benchmark's handler on bare Hono and `Deno.serve`, nothing else. With
 * `--console-log` the handler logs through `console` (for the Deno built-in OpenTelemetry peer,
 * where `OTEL_DENO=true` turns that into OTLP logs and every request into a span).
 *
 * ```sh
 * deno run -A bench/bare_server.ts 8080 [--console-log]
 * ```
 * @module
 */
import { Hono } from "hono";
import { acceptMessage, consoleLog, MESSAGE_PATH, silentLog } from "./handler.ts";

const port = Number(Deno.args[0]);
const log = Deno.args.includes("--console-log") ? consoleLog : silentLog;
const app = new Hono().post(MESSAGE_PATH, acceptMessage(log));
const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  Deno.exit(0);
});
