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

/** Ports handed out lately: the kernel can offer a just-released port again at once. */
const recent = new Set<number>();

/**
 * A port on 127.0.0.1 nothing listened on a moment ago (bound, then released), and not one this
 * process was given in its last thousand calls, so ports asked for together (a host's five
 * services) are all different.
 */
export function freePort(): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    if (recent.has(port)) continue;
    recent.add(port);
    if (recent.size > 1000) recent.delete(recent.values().next().value!);
    return port;
  }
}
