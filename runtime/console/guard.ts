/**
 * Who may talk to the console. Bound to loopback, only requests naming a loopback host are
 * answered (a page on another site that rebinds its DNS name to 127.0.0.1 gets a 421). Bound to
 * any other address, every request needs the token printed at start: as `?token=` once (a
 * cookie keeps it), a `console_token` cookie, or `Authorization: Bearer <token>` (OTLP
 * exporters: `OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer <token>`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { guard } from "./guard.ts";
 * const app = new Hono().use("*", guard({ loopback: true }));
 * console.log((await app.request("http://evil.example/api/stats")).status); // 421
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";

/** Options of {@linkcode guard}. */
export interface GuardOptions {
  /** The console listens on a loopback address only. */
  readonly loopback: boolean;
  /** Required on every request when set (the console must set it when not on loopback). */
  readonly token?: string;
}

/** The cookie that carries the token after `?token=`. */
export const TOKEN_COOKIE = "console_token";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether `hostname` is a loopback address or name. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host.endsWith(".localhost");
}

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The middleware. */
export function guard(options: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    if (options.loopback) {
      const host = c.req.header("host") ?? new URL(c.req.url).host;
      const hostname = host.replace(/:\d+$/, "");
      if (!isLoopback(hostname)) {
        return c.json({
          error: `the console answers requests for localhost only, not for host "${hostname}"`,
        }, 421);
      }
    }
    const token = options.token;
    if (token === undefined) return await next();
    const query = c.req.query("token");
    if (query !== undefined && sameSecret(query, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      if (c.req.method === "GET" && !c.req.path.startsWith("/api/")) {
        const url = new URL(c.req.url);
        url.searchParams.delete("token");
        return c.redirect(url.pathname + url.search, 303);
      }
      return await next();
    }
    const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    const cookie = getCookie(c, TOKEN_COOKIE);
    if (
      (bearer !== undefined && sameSecret(bearer.trim(), token)) ||
      (cookie !== undefined && sameSecret(cookie, token))
    ) {
      return await next();
    }
    c.header("WWW-Authenticate", 'Bearer realm="console"');
    return c.json({
      error: "the console needs its token: open the URL with ?token= from the startup log, " +
        "or send Authorization: Bearer <token>",
    }, 401);
  };
}
