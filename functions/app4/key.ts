/**
 * Where app4 keeps a message in Redis.
 * @module
 */

/** The Redis key of message `id`. */
export function cacheKey(id: string): string {
  return `message:${id}`;
}
