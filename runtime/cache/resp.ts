/**
 * A small Redis client speaking RESP2 over one TCP connection with pipelining: commands are
 * written in order and replies matched in order. It reconnects on the next command after a
 * failure and gives up on a command after a deadline, so an outage is an error, not a hang.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "./resp.ts";
 * const redis = new RedisConnection("redis://127.0.0.1:6379");
 * const [pong] = await redis.send([["PING"]]);
 * console.log(pong); // "PONG"
 * redis.close();
 * ```
 * @module
 */
import { withDeadline } from "../deadline.ts";

/** A reply value: bulk and simple strings as strings, integers as numbers, nil as null. */
export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply (`-ERR …`): the command failed, the connection is fine. */
export class RespError {
  constructor(readonly message: string) {}
}

/** The server could not be reached or stopped answering. */
export class RedisConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes commands as RESP arrays of bulk strings. */
export function encodeCommands(commands: readonly (readonly string[])[]): Uint8Array {
  const parts: string[] = [];
  for (const command of commands) {
    parts.push(`*${command.length}\r\n`);
    for (const arg of command) parts.push(`$${encoder.encode(arg).length}\r\n${arg}\r\n`);
  }
  return encoder.encode(parts.join(""));
}

/** A parsed reply and the offset just past it. */
interface Parsed {
  readonly value: RespValue;
  readonly next: number;
}

const CR = 13;

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buffer: Uint8Array, offset: number): Parsed | undefined {
  let lineEnd = offset;
  while (lineEnd + 1 < buffer.length && buffer[lineEnd] !== CR) lineEnd++;
  if (lineEnd + 1 >= buffer.length) return undefined;
  const type = String.fromCharCode(buffer[offset]);
  const line = decoder.decode(buffer.subarray(offset + 1, lineEnd));
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, next: afterLine };
    case "-":
      return { value: new RespError(line), next: afterLine };
    case ":":
      return { value: Number(line), next: afterLine };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (afterLine + length + 2 > buffer.length) return undefined;
      return {
        value: decoder.decode(buffer.subarray(afterLine, afterLine + length)),
        next: afterLine + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new RedisConnectionError(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

/** Options of a {@linkcode RedisConnection}. */
export interface RedisConnectionOptions {
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

/** One pipelined connection to the server named by a `redis://` URL. */
export class RedisConnection {
  readonly host: string;
  readonly port: number;
  readonly #url: URL;
  readonly #options: Required<RedisConnectionOptions>;
  #connection: Promise<Deno.TcpConn> | undefined;
  #socket: Deno.TcpConn | undefined;
  #pending: Pending[] = [];
  #writes: Promise<void> = Promise.resolve();

  constructor(url: string, options: RedisConnectionOptions = {}) {
    this.#url = new URL(url);
    this.host = this.#url.hostname || "127.0.0.1";
    this.port = Number(this.#url.port) || 6379;
    this.#options = { connectTimeoutMs: 3000, commandTimeoutMs: 5000, ...options };
  }

  /** Sends `commands` in one write and resolves with their replies, in order. */
  async send(commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    const socket = await this.#connect();
    const timer = setTimeout(
      () => this.#fail(socket, new RedisConnectionError("redis did not answer in time")),
      this.#options.commandTimeoutMs,
    );
    try {
      return await this.#exchange(socket, commands);
    } catch (error) {
      this.#fail(socket, error);
      throw error instanceof RedisConnectionError
        ? error
        : new RedisConnectionError("redis connection failed", { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; pending commands fail. */
  close(): void {
    if (this.#socket) this.#fail(this.#socket, new RedisConnectionError("closed"));
    this.#connection = undefined;
  }

  /** Queues the replies and writes the commands; writes never interleave. */
  #exchange(socket: Deno.TcpConn, commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    const replies = commands.map(() =>
      new Promise<RespValue>((resolve, reject) => this.#pending.push({ resolve, reject }))
    );
    const all = Promise.all(replies);
    // If the write fails first, the replies are rejected with nobody waiting on them yet.
    all.catch(() => {});
    const bytes = encodeCommands(commands);
    const written = this.#writes.then(() => writeAll(socket, bytes));
    this.#writes = written.catch(() => {});
    return written.then(() => all);
  }

  #connect(): Promise<Deno.TcpConn> {
    this.#connection ??= this.#open().catch((error) => {
      this.#connection = undefined;
      throw error instanceof RedisConnectionError
        ? error
        : new RedisConnectionError(`cannot connect to ${this.host}:${this.port}`, {
          cause: error,
        });
    });
    return this.#connection;
  }

  async #open(): Promise<Deno.TcpConn> {
    const signal = AbortSignal.timeout(this.#options.connectTimeoutMs);
    const socket = await Deno.connect({ hostname: this.host, port: this.port, signal });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#writes = Promise.resolve();
    this.#read(socket);
    const setup: string[][] = [];
    const password = decodeURIComponent(this.#url.password);
    const username = decodeURIComponent(this.#url.username);
    if (password) setup.push(username ? ["AUTH", username, password] : ["AUTH", password]);
    const db = this.#url.pathname.slice(1);
    if (/^\d+$/.test(db) && db !== "0") setup.push(["SELECT", db]);
    if (setup.length > 0) {
      let replies: RespValue[];
      try {
        replies = await withDeadline(
          this.#exchange(socket, setup),
          this.#options.commandTimeoutMs,
        );
      } catch (error) {
        this.#fail(socket, error);
        throw new RedisConnectionError("redis did not answer AUTH/SELECT", { cause: error });
      }
      for (const reply of replies) {
        if (reply instanceof RespError) {
          const error = new RedisConnectionError(`redis refused setup: ${reply.message}`);
          this.#fail(socket, error);
          throw error;
        }
      }
    }
    return socket;
  }

  async #read(socket: Deno.TcpConn): Promise<void> {
    let buffer: Uint8Array = new Uint8Array(0);
    try {
      for await (const chunk of socket.readable) {
        buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
        let offset = 0;
        for (;;) {
          const parsed = parseReply(buffer, offset);
          if (parsed === undefined) break;
          offset = parsed.next;
          if (socket === this.#socket) this.#pending.shift()?.resolve(parsed.value);
        }
        buffer = buffer.subarray(offset);
      }
      this.#fail(socket, new RedisConnectionError("redis closed the connection"));
    } catch (error) {
      this.#fail(socket, new RedisConnectionError("redis connection broke", { cause: error }));
    }
  }

  /** Drops `socket`; if it is the current one, its pending commands fail and the next reconnects. */
  #fail(socket: Deno.TcpConn, error: unknown): void {
    try {
      socket.close();
    } catch {
      // already closed
    }
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#connection = undefined;
    const reason = error instanceof Error ? error : new RedisConnectionError(String(error));
    const pending = this.#pending;
    this.#pending = [];
    for (const waiter of pending) waiter.reject(reason);
  }
}

async function writeAll(connection: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await connection.write(bytes));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
