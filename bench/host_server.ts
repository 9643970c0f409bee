/**
 * The host under test for the HTTP benchmark: `startHost` exactly as `runtime/main.ts` runs it,
 * serving one service (`app1`) whose only function is the benchmark's handler, so every request
 * goes through the full stack (tracing, metrics, body limit, error mapping, the logger) and the
 * configuration comes from the environment (`OTEL_*`, `APP1_PORT`, `LOG_LEVEL`).
 *
 * ```sh
 * APP1_PORT=8001 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 deno run -A bench/host_server.ts
 * ```
 * @module
 */
import { Hono } from "hono";
import { services } from "../functions/mod.ts";
import { loadConfig } from "../runtime/config.ts";
import { startHost } from "../runtime/host.ts";
import { defineService } from "../runtime/mod.ts";
import { acceptMessage, MESSAGE_PATH } from "./handler.ts";

const bench = defineService({
  name: "app1",
  port: 8001,
  uses: [],
  http: (ctx) => new Hono().post(MESSAGE_PATH, acceptMessage(ctx.log)),
});

const hosted = { ...services, app1: bench };
const host = await startHost(
  loadConfig({ ...Deno.env.toObject(), SERVICES: "app1", HOST: "127.0.0.1" }, [], hosted),
  hosted,
);
Deno.addSignalListener("SIGTERM", async () => {
  await host.stop();
  Deno.exit(0);
});
