/**
 * app4's Kafka-triggered function: each `Purchase2` message is saved in Redis under
 * `message:<id>` for `CACHE_TTL_SECONDS`. Saving again on redelivery is harmless. The fault flag
 * `app4CacheFailure` fails that share of cache writes: retried, then dead-lettered to
 * `Purchase2.DLQ`, as failing Redis writes would be.
 * @module
 */
import type { KafkaFunction } from "../../runtime/mod.ts";
import { failSomeCalls } from "../_shared/faults.ts";
import { messageFromRecord } from "../_shared/message.ts";
import { cacheKey } from "./key.ts";
import type { App4Config } from "./settings.ts";

/** Caches `Purchase2` messages. */
export const cacheMessage: KafkaFunction<"redis", App4Config> = {
  name: "cache-message",
  topic: "Purchase2",
  group: "app4",
  async handle(record, ctx) {
    const message = messageFromRecord(record);
    await failSomeCalls(ctx, "app4CacheFailure", "caching the message");
    await ctx.cache.set(cacheKey(message.id), {
      ...message,
      cachedAt: new Date().toISOString(),
    }, { ttlSeconds: ctx.config.cacheTtlSeconds });
    ctx.log.info("message cached", { message_id: message.id });
  },
};
