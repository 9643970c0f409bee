/**
 * Serves the console: binds `CONSOLE_HOST:CONSOLE_PORT` (127.0.0.1:8000 by default), requires a
 * token on any address other than loopback, and says where it is.
 *
 * @example
 * ```ts
 * import { serveConsole } from "./server.ts";
 * import { ConsoleStore } from "./store.ts";
 * const store = new ConsoleStore();
 * const server = serveConsole({ store, hostname: "127.0.0.1", port: 0 });
 * console.log(server.url); // http://localhost:PORT
 * await server.stop();
 * ```
 * @module
 */
import type { FlagSource } from "../flags/source.ts";
import { encodeHex } from "./_codec.ts";
import { type ConsoleActions, createConsoleApp, type PageMount } from "./app.ts";
import { isLoopback } from "./guard.ts";
import type { ConsoleSink } from "./ingest.ts";
import type { ConsoleReader } from "./model.ts";

/** Options of {@linkcode serveConsole}. */
export interface ServeConsoleOptions {
  readonly store: ConsoleReader & ConsoleSink;
  readonly hostname: string;
  readonly port: number;
  /** The token to require off loopback; a random one when unset. */
  readonly token?: string;
  readonly actions?: ConsoleActions;
  readonly pages?: PageMount;
  readonly maxIngestBytes?: number;
  /** The host's fault flags, served at `/api/flags`. */
  readonly flags?: FlagSource;
}

/** A running console. */
export interface ConsoleServer {
  /** Where to open it (with `?token=` when one is needed). */
  readonly url: string;
  /** The base URL for OTLP exporters (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly endpoint: string;
  readonly port: number;
  /** Set when the console is not on loopback. */
  readonly token?: string;
  stop(): Promise<void>;
}

/** A fresh random token: 128 bits as hex. */
export function randomToken(): string {
  return encodeHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** Starts serving; throws `Deno.errors.AddrInUse` when the port is taken. */
export function serveConsole(options: ServeConsoleOptions): ConsoleServer {
  const loopback = isLoopback(options.hostname);
  const token = loopback ? undefined : options.token ?? randomToken();
  // Open event streams (a browser tab, deno task traces --follow) end when the console stops.
  const closing = new AbortController();
  const app = createConsoleApp({
    closing: closing.signal,
    reader: options.store,
    sink: options.store,
    actions: options.actions,
    pages: options.pages,
    loopback,
    token,
    maxIngestBytes: options.maxIngestBytes,
    flags: options.flags,
  });
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: () => Response.json({ error: "console error" }, { status: 500 }),
  }, app.fetch);
  const port = server.addr.port;
  const host = loopback
    ? "localhost"
    : ["0.0.0.0", "::", ""].includes(options.hostname)
    ? Deno.hostname()
    : options.hostname.includes(":")
    ? `[${options.hostname}]`
    : options.hostname;
  const base = `http://${host}:${port}`;
  return {
    url: token ? `${base}/?token=${token}` : base,
    endpoint: base,
    port,
    ...(token ? { token } : {}),
    stop: () => {
      closing.abort();
      return server.shutdown();
    },
  };
}
