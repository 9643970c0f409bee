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
import { type Backend, RedisUnavailableError, type Reply } from "./bridge.ts";

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
  // Failed commands carry the outage to their callers; the event itself needs no handling.
  client.on("error", () => {});
  const firstAttempt = new Promise((settled) => {
    client.once("ready", settled);
    client.once("error", settled);
  });
  client.connect().catch(() => {});

  return {
    async execute(commands) {
      if (!client.isReady) await withDeadline(firstAttempt, timeoutMs).catch(() => {});
      return await Promise.all(commands.map(async (command) => {
        try {
          return {
            result: await withDeadline(client.sendCommand([...command]), timeoutMs) as Reply,
          };
        } catch (error) {
          if (error instanceof ErrorReply) return { error: error.message };
          throw new RedisUnavailableError((error as Error).message || "no answer", {
            cause: error,
          });
        }
      }));
    },
    close() {
      if (client.isOpen) client.destroy();
      return Promise.resolve();
    },
  };
}
