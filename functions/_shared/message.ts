/**
 * The message every function passes on, and how it is read and checked at each entry point:
 * HTTP bodies (415/400 with a JSON error naming the problem) and Kafka values (a
 * {@linkcode PermanentError}, so a malformed message is dead-lettered, not retried).
 *
 * @example
 * ```ts
 * import { parseMessage } from "./message.ts";
 * const parsed = parseMessage({ content: "hello" }, { idRequired: false });
 * console.log(parsed.ok); // true
 * ```
 * @module
 */
import type { Context } from "hono";
import { type IncomingMessage, PermanentError } from "../../runtime/mod.ts";

/** A message as it travels between functions. */
export interface Message {
  readonly id: string;
  readonly content: string;
}

/** A message as a caller may send it: the first function gives it an id if it has none. */
export interface MessageInput {
  readonly id?: string;
  readonly content: string;
  readonly source?: string;
}

/** Longest `content` accepted, in characters. */
export const MAX_CONTENT_CHARS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SOURCE = /^[\w.-]{1,64}$/;

/** True for a UUID in its canonical 8-4-4-4-12 hex form. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** A parse result: the value, or what is wrong with the input. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly error: string;
};

/** Options of {@linkcode parseMessage}. */
export interface ParseOptions {
  readonly idRequired: boolean;
  /** Whether a `source` field (who stored the message) is accepted. */
  readonly allowSource?: boolean;
}

/** Checks that `input` is a message object, naming the first problem found. */
export function parseMessage(input: unknown, options: ParseOptions): Parsed<MessageInput> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: "body must be a JSON object" };
  }
  const fields = ["content", "id", ...(options.allowSource ? ["source"] : [])];
  const unknown = Object.keys(input).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    return {
      ok: false,
      error: `unknown field ${JSON.stringify(unknown.slice(0, 64))}; expected ${fields.join(", ")}`,
    };
  }
  const { content, id, source } = input as Record<string, unknown>;
  if (content === undefined) return { ok: false, error: '"content" is required' };
  if (typeof content !== "string") return { ok: false, error: '"content" must be a string' };
  if (content.trim() === "") return { ok: false, error: '"content" must not be empty' };
  // PostgreSQL text holds neither NUL nor unpaired surrogates; refuse them here, not with a 500.
  if (content.includes("\0") || !content.isWellFormed()) {
    return { ok: false, error: '"content" must be text without NUL or unpaired surrogates' };
  }
  if (content.length > MAX_CONTENT_CHARS) {
    return { ok: false, error: `"content" must be at most ${MAX_CONTENT_CHARS} characters` };
  }
  if (id === undefined && options.idRequired) return { ok: false, error: '"id" is required' };
  if (id !== undefined && !isUuid(id)) return { ok: false, error: '"id" must be a UUID' };
  if (source !== undefined && (typeof source !== "string" || !SOURCE.test(source))) {
    return { ok: false, error: '"source" must be 1-64 letters, digits, "_", "." or "-"' };
  }
  return { ok: true, value: { content, id: id?.toLowerCase(), source } };
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** Reads a JSON message body; a Response (415 or 400) when the request is not acceptable. */
export async function readMessage(
  c: Context,
  options: ParseOptions,
): Promise<MessageInput | Response> {
  if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    return c.json({ error: "content-type must be application/json" }, 415);
  }
  const text = await c.req.text();
  if (text.trim() === "") return c.json({ error: "request body is empty; expected JSON" }, 400);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return c.json({ error: "request body is not valid JSON" }, 400);
  }
  const parsed = parseMessage(body, options);
  return parsed.ok ? parsed.value : c.json({ error: parsed.error }, 400);
}

/** Reads the message a Kafka record carries; a malformed one is a {@linkcode PermanentError}. */
export function messageFromRecord(record: IncomingMessage): Message {
  let body: unknown;
  try {
    body = JSON.parse(record.value);
  } catch {
    throw new PermanentError("message value is not valid JSON");
  }
  const parsed = parseMessage(body, { idRequired: true });
  if (!parsed.ok) throw new PermanentError(`message value is invalid: ${parsed.error}`);
  return { id: parsed.value.id as string, content: parsed.value.content };
}

/** Reads and checks the `:id` route parameter; a 400 Response when it is not a UUID. */
export function readId(c: Context): string | Response {
  const id = c.req.param("id");
  return isUuid(id) ? id.toLowerCase() : c.json({ error: "id must be a UUID" }, 400);
}
