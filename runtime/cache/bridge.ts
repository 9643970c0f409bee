/**
 * An Upstash-compatible REST bridge: `POST /` runs one command, `POST /pipeline` several,
 * `POST /multi-exec` several as a transaction, each answered `{result}` or `{error}`. With
 * `Upstash-Encoding: base64` every string in a result is base64 (what @upstash/redis expects).
 * It requires its bearer token and listens on loopback only. Behind it sits a real Redis
 * ({@linkcode redisBackend}) or the embedded store.
 *
 * @example
 * ```ts
 * import { EmbeddedStore } from "./store.ts";
 * import { startRestBridge } from "./bridge.ts";
 * const bridge = await startRestBridge(await EmbeddedStore.open(await Deno.makeTempDir()), {
 *   token: "secret",
 * });
 * const response = await fetch(bridge.url, {
 *   method: "POST",
 *   headers: { authorization: "Bearer secret" },
 *   body: JSON.stringify(["PING"]),
 * });
 * console.log(await response.json()); // { result: "PONG" }
 * await bridge.stop();
 * ```
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { RedisConnection, RedisConnectionError, RespError, type RespValue } from "./resp.ts";

/** A command: its name and arguments. */
export type Command = readonly string[];

/** Runs commands; rejects with a {@linkcode RedisConnectionError} when it cannot reach Redis. */
export interface CommandBackend {
  execute(commands: readonly Command[], options?: { transaction?: boolean }): Promise<RespValue[]>;
  close(): void;
}

/** A real Redis server behind the bridge, over one pipelined connection. */
export function redisBackend(url: string): CommandBackend {
  const connection = new RedisConnection(url);
  return {
    async execute(commands, options) {
      if (!options?.transaction) return await connection.send(commands);
      const replies = await connection.send([["MULTI"], ...commands, ["EXEC"]]);
      const queued = replies.slice(1, -1).find((reply) => reply instanceof RespError);
      const exec = replies[replies.length - 1];
      if (queued) return commands.map(() => queued);
      if (Array.isArray(exec)) return exec;
      return commands.map(() =>
        exec instanceof RespError ? exec : new RespError("EXECABORT Transaction discarded")
      );
    },
    close: () => connection.close(),
  };
}

/** A running bridge. */
export interface RestBridge {
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

/** Largest request body the bridge reads. */
export const MAX_BRIDGE_BODY_BYTES = 10 * 1024 * 1024;

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The bridge's request handler, usable without a server in tests. */
export function createBridgeHandler(
  backend: CommandBackend,
  token: string,
): (request: Request) => Promise<Response> {
  const expected = new TextEncoder().encode(`Bearer ${token}`);
  const authorized = (header: string | null): boolean => {
    const given = new TextEncoder().encode(header ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return async (request) => {
    if (!authorized(request.headers.get("authorization"))) {
      return json({ error: "Unauthorized" }, 401);
    }
    const path = new URL(request.url).pathname;
    if (!["/", "/pipeline", "/multi-exec"].includes(path)) {
      return json({ error: `unknown endpoint ${path}` }, 404);
    }
    if (request.method !== "POST") return json({ error: "use POST" }, 405);
    const text = await readLimited(request, MAX_BRIDGE_BODY_BYTES);
    if (text === undefined) {
      return json({ error: `body exceeds ${MAX_BRIDGE_BODY_BYTES} bytes` }, 413);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return json({ error: "body is not valid JSON" }, 400);
    }
    const single = path === "/";
    const commands = single ? [body] : body;
    if (!Array.isArray(commands) || commands.length === 0) {
      return json({ error: "body must be a command array or an array of commands" }, 400);
    }
    const parsed: Command[] = [];
    for (const command of commands) {
      const problem = commandProblem(command);
      if (problem) return json({ error: problem }, 400);
      parsed.push((command as unknown[]).map(String));
    }
    let replies: RespValue[];
    try {
      replies = await backend.execute(parsed, { transaction: path === "/multi-exec" });
    } catch (error) {
      if (error instanceof RedisConnectionError) {
        return json({ error: `redis unavailable: ${error.message}` }, 503);
      }
      throw error;
    }
    const base64 = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    const answers = replies.map((reply) =>
      reply instanceof RespError ? { error: reply.message } : { result: encode(reply, base64) }
    );
    if (!single) return json(answers);
    return json(answers[0], "error" in answers[0] ? 400 : 200);
  };
}

/** Serves `backend` on 127.0.0.1 behind `token`. */
export function startRestBridge(
  backend: CommandBackend,
  options: { token: string; port?: number },
): Promise<RestBridge> {
  const handler = createBridgeHandler(backend, options.token);
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}`,
          token: options.token,
          async stop() {
            await server.shutdown();
            backend.close();
          },
        }),
      onError: () => json({ error: "bridge error" }, 500),
    }, handler);
  });
}

/** The body as text, or undefined once it passes `maxBytes` (declared or streamed). */
async function readLimited(request: Request, maxBytes: number): Promise<string | undefined> {
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) return undefined;
  if (request.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

function commandProblem(command: unknown): string | undefined {
  if (!Array.isArray(command) || command.length === 0) {
    return 'a command is a non-empty array, e.g. ["GET", "key"]';
  }
  if (typeof command[0] !== "string") return "a command starts with its name";
  for (const arg of command) {
    if (typeof arg !== "string" && typeof arg !== "number" && typeof arg !== "boolean") {
      return "command arguments must be strings or numbers";
    }
  }
  return undefined;
}

function encode(value: RespValue, base64: boolean): unknown {
  if (typeof value === "string") return base64 ? toBase64(value) : value;
  if (Array.isArray(value)) return value.map((item) => encode(item, base64));
  if (value instanceof RespError) return value.message;
  return value;
}

const encoder = new TextEncoder();

function toBase64(text: string): string {
  const bytes = encoder.encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
