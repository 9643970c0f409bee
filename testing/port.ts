/**
 * Free TCP ports for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { freePort } from "./port.ts";
 * const port = freePort();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port });
 * listener.close();
 * ```
 * @module
 */

/** A port on 127.0.0.1 nothing listened on a moment ago (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
