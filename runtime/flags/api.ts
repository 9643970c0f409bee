/**
 * The flags' JSON API, mounted in the console:
 * - `GET /api/flags` → `{"flags": [{name, description, state, variants: [{name, value}],
 *   defaultVariant, variant, value, targeting}], "file", "loadedAt", "error"}`
 * - `PUT /api/flags/:name` with `{"variant": "50%"}` → the flag as it is now (200); 400 for a bad
 *   body or an unknown variant, 404 for an unknown flag, 409 while the file is invalid, 415 for a
 *   body that is not JSON, 503 when the file cannot be written. The file is rewritten atomically,
 *   so what the API says and what the file says never differ.
 *
 * @example
 * ```ts
 * import { flagRoutes } from "./api.ts";
 * import { FlagSource } from "./source.ts";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, JSON.stringify({
 *   flags: { app1SlowMs: { state: "ENABLED", variants: { off: 0, "1s": 1000 }, defaultVariant: "off" } },
 * }));
 * const source = await FlagSource.open(file, { log: console });
 * const response = await flagRoutes(source).request("/api/flags/app1SlowMs", {
 *   method: "PUT",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ variant: "1s" }),
 * });
 * console.log(response.status, (await response.json()).value); // 200 1000
 * source.close();
 * ```
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { FlagChangeError, type FlagSource } from "./source.ts";

/** Largest `PUT` body accepted: a variant name needs a few bytes. */
const MAX_BODY_BYTES = 4096;
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** The routes, to be mounted at the console's root. */
export function flagRoutes(source: FlagSource): Hono {
  const tooLarge = (c: Context) =>
    c.json({ error: `request body exceeds ${MAX_BODY_BYTES} bytes` }, 413);
  return new Hono()
    .get("/api/flags", (c) => c.json({ flags: source.flags(), ...source.status() }))
    .put(
      "/api/flags/:name",
      bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge }),
      async (c) => {
        if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
          return c.json({ error: "content-type must be application/json" }, 415);
        }
        const variant = readVariant(await c.req.text());
        if (typeof variant !== "string") return c.json({ error: variant.error }, 400);
        try {
          return c.json(await source.setVariant(c.req.param("name"), variant));
        } catch (error) {
          if (error instanceof FlagChangeError) {
            return c.json({ error: error.message }, error.status);
          }
          throw error;
        }
      },
    );
}

/** The `variant` of a `PUT` body, or what is wrong with the body. */
function readVariant(text: string): string | { error: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: 'request body is not valid JSON; expected {"variant": "<name>"}' };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { error: 'body must be a JSON object like {"variant": "<name>"}' };
  }
  const unknown = Object.keys(body).find((key) => key !== "variant");
  if (unknown !== undefined) {
    return { error: `unknown field ${JSON.stringify(unknown.slice(0, 64))}; expected variant` };
  }
  const { variant } = body as { variant?: unknown };
  if (variant === undefined) return { error: '"variant" is required' };
  if (typeof variant !== "string" || variant === "") {
    return { error: '"variant" must be the name of one of the flag\'s variants' };
  }
  return variant;
}
