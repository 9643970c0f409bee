/**
 * A Redis server behind the REST bridge, through node-redis (`@redis/client`): one pipelined
 * connection that reconnects by itself. Commands fail at once while it is down (no offline
 * queue) and each has its own deadline, so a slow command fails alone instead of taking the
 * commands behind it on the same connection down with it (its late reply is read and dropped).
 *
 * @example
 * ```ts
 * import { redisBackend } from "./redis.ts";
 * const redis = redisBackend("redis://127.0.0.1:6379");
 * // console.log(await redis.execute([["PING"]])); // [{ result: "PONG" }]
 * await redis.close();
 * ```
 * @module
 */
import { createClient, ErrorReply } from "@redis/client";
import { withDeadline } from "../deadline.ts";
import { type Backend, type Command, RedisUnavailableError, type Reply } from "./bridge.ts";

/**
 * Connects to the server a `redis://[user:password@]host:port[/db]` URL names;
 * connecting and each command may take `timeoutMs`.
 */
export function redisBackend(url: string, timeoutMs = 5000): Backend {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  // Failed commands carry the outage to their callers. A server refusing the credentials makes
  // node-redis say only "The client is offline": keep the refusal's code to say so instead.
  let refused: string | undefined;
  client.on("error", (error: Error) => {
    refused = /^(WRONGPASS|NOAUTH|NOPERM)\b/.exec(error?.message ?? "")?.[1] ?? refused;
  });
  client.on("ready", () => refused = undefined);
  const firstAttempt = new Promise((settled) =>
    client.once("ready", settled).once("error", settled)
  );
  client.connect().catch(() => {});
  const send = (command: Command) => client.sendCommand([...command]) as Promise<Reply>;

  return {
    async execute(commands) {
      if (!client.isReady) await withDeadline(firstAttempt, timeoutMs).catch(() => {});
      return await Promise.all(commands.map(async (command) => {
        try {
          return { result: await withDeadline(send(command), timeoutMs) };
        } catch (error) {
          if (error instanceof ErrorReply) return { error: error.message };
          const reason = refused === undefined
            ? (error as Error).message || "no answer"
            : `${refused} (the server refuses the credentials in REDIS_URL)`;
          throw new RedisUnavailableError(reason, { cause: error });
        }
      }));
    },
    close: () => Promise.resolve(client.isOpen ? client.destroy() : undefined),
  };
}
