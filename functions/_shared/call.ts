/**
 * How one function calls another over HTTP with a JSON body, through the traced fetch, and how a
 * caller passes the answer on: success and client errors as they are, an unreachable or
 * overloaded callee as 503, a failing callee as 502.
 *
 * @example
 * ```ts
 * import { postJson } from "./call.ts";
 * // const reply = await postJson(ctx, "app3", `${ctx.config.app3Url}/PostMessage`, { content: "hi" });
 * // if (reply.status === 201) ...
 * ```
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  type BaseContext,
  DependencyUnavailableError,
  isConnectionFailure,
} from "../../runtime/mod.ts";

/** A callee's answer. */
export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** How long a call may take before the callee counts as unavailable. */
export const CALL_TIMEOUT_MS = 10_000;

/**
 * POSTs `body` as JSON; a {@linkcode DependencyUnavailableError} when `callee` cannot be reached
 * or does not answer in time. Any other error (a bug) is thrown as it is.
 */
export async function postJson(
  ctx: BaseContext,
  callee: string,
  url: string,
  body: unknown,
): Promise<Reply> {
  let response: Response;
  try {
    response = await ctx.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
  } catch (error) {
    throw isConnectionFailure(error) ? new DependencyUnavailableError(callee, error) : error;
  }
  const text = await response.text();
  let parsed: unknown = {};
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    parsed = {};
  }
  const object = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? parsed as Record<string, unknown>
    : {};
  return { status: response.status, body: object };
}

/** True for 2xx. */
export function succeeded(reply: Reply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

/**
 * Answers the caller with what `callee` answered, mapping its failures to 503 or 502 (a redirect
 * too: function calls do not follow them).
 */
export function relay(c: Context, callee: string, reply: Reply): Response {
  if (reply.status >= 300 && reply.status < 400) {
    return c.json({ error: `${callee} answered ${reply.status} (a redirect, not followed)` }, 502);
  }
  if (reply.status < 500) return c.json(reply.body, reply.status as ContentfulStatusCode);
  const detail = typeof reply.body.error === "string" ? `: ${reply.body.error}` : "";
  if (reply.status === 503) {
    c.header("Retry-After", "5");
    return c.json({ error: `${callee} is unavailable${detail}` }, 503);
  }
  return c.json({ error: `${callee} failed with ${reply.status}${detail}` }, 502);
}
