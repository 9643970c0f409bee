/**
 * The host's private Upstash-compatible REST endpoint, so `@upstash/redis` (the functions' one
 * cache client) reaches a plain Redis or the embedded store the same way it reaches Upstash:
 * `POST /` runs one command, `POST /pipeline` several, each answered `{result}` or `{error}`;
 * with `Upstash-Encoding: base64` every string in a result is base64. It listens on loopback
 * behind a bearer token the host makes up at start, and runs only the commands the functions'
 * cache client sends ({@linkcode ALLOWED_COMMANDS}): behind it may sit a real Redis, where
 * FLUSHALL, CONFIG or SHUTDOWN would reach far beyond a function's keys.
 *
 * @example
 * ```ts
 * import { openEmbeddedStore } from "./store.ts";
 * import { startRestBridge } from "./bridge.ts";
 * const store = await openEmbeddedStore(await Deno.makeTempDir());
 * const bridge = await startRestBridge(store, { token: "secret" });
 * const init = { method: "POST", headers: { authorization: "Bearer secret" }, body: '["PING"]' };
 * console.log(await (await fetch(bridge.url, init)).json()); // { result: "PONG" }
 * await bridge.stop();
 * ```
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/** A command: its name and arguments. */
export type Command = readonly string[];
/** A reply: strings, integers, nil, or arrays of them. */
export type Reply = string | number | null | Reply[];
/** What one command came to: its reply, or the error text Redis answered. */
export type Outcome = { result: Reply } | { error: string };

/** Runs commands in order; rejects with {@linkcode RedisUnavailableError} when it cannot. */
export interface Backend {
  execute(commands: readonly Command[]): Promise<Outcome[]>;
  close(): Promise<void>;
}

/** The backend cannot reach Redis (refused, closed, no answer in time). */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

/** A running bridge. */
export type RestBridge = { readonly url: string; readonly token: string; stop(): Promise<void> };

type Handler = (request: Request) => Promise<Response>;
const json = (body: unknown, status = 200) => Response.json(body, { status });

/** What the cache client (`connectCache`: get, set with EX, ping) sends; nothing else runs. */
export const ALLOWED_COMMANDS: ReadonlySet<string> = new Set(["PING", "GET", "SET"]);

/** The bridge's request handler, usable without a server in tests. */
export function createBridgeHandler(backend: Backend, token: string): Handler {
  const expected = new TextEncoder().encode(`Bearer ${token}`);
  const authorized = (header: string | null) => {
    const given = new TextEncoder().encode(header ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return async (request) => {
    if (!authorized(request.headers.get("authorization"))) {
      return json({ error: "Unauthorized" }, 401);
    }
    const path = new URL(request.url).pathname;
    if (path !== "/" && path !== "/pipeline") {
      return json({ error: `unknown endpoint ${path}` }, 404);
    }
    if (request.method !== "POST") return json({ error: "use POST" }, 405);
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json({ error: "body is not valid JSON" }, 400);
    }
    const commands = path === "/" ? [body] : body;
    if (!Array.isArray(commands) || commands.length === 0 || !commands.every(isCommand)) {
      return json({ error: 'expected ["NAME", ...args] or a list of them' }, 400);
    }
    // A request with any command outside the list runs none of its commands.
    const refused = commands.find((command) =>
      !ALLOWED_COMMANDS.has(String(command[0]).toUpperCase())
    );
    if (refused !== undefined) {
      const name = String(refused[0]).toUpperCase().slice(0, 32).replace(/[^\w.-]/g, "?");
      return json({
        error: `ERR command '${name}' is not allowed here (this bridge runs ${
          [...ALLOWED_COMMANDS].join(", ")
        })`,
      }, 403);
    }
    let outcomes: Outcome[];
    try {
      outcomes = await backend.execute(commands.map((command) => command.map(String)));
    } catch (error) {
      if (error instanceof RedisUnavailableError) {
        return json({ error: `redis unavailable: ${error.message}` }, 503);
      }
      throw error;
    }
    if (request.headers.get("upstash-encoding")?.toLowerCase() === "base64") {
      outcomes = outcomes.map((o) => "result" in o ? { result: toBase64(o.result) } : o);
    }
    if (path === "/pipeline") return json(outcomes);
    return json(outcomes[0], "error" in outcomes[0] ? 400 : 200);
  };
}

/** Serves `backend` on 127.0.0.1 behind `token`; stopping closes the backend too. */
export function startRestBridge(backend: Backend, options: { token: string }): Promise<RestBridge> {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: () => json({ error: "bridge error" }, 500),
  }, createBridgeHandler(backend, options.token));
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    token: options.token,
    stop: () => server.shutdown().then(() => backend.close()),
  });
}

function isCommand(command: unknown): command is (string | number | boolean)[] {
  return Array.isArray(command) && typeof command[0] === "string" &&
    command.every((arg) => ["string", "number", "boolean"].includes(typeof arg));
}

function toBase64(reply: Reply): Reply {
  if (Array.isArray(reply)) return reply.map(toBase64);
  return typeof reply === "string" ? new TextEncoder().encode(reply).toBase64() : reply;
}
