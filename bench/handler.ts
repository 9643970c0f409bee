/**
 * The function every HTTP variant serves and the one every Kafka variant runs, written once so
 * the host and the bare stack execute the same logic: an app1-like `POST /Message` that reads
 * and checks the JSON body with the seed's own `readMessage`, gives the message an id, logs one
 * line and answers 202 without a backend; and a consumer that parses and checks each record with
 * the seed's `messageFromRecord` and logs one line.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { acceptMessage, silentLog } from "./handler.ts";
 * const app = new Hono().post("/Message", acceptMessage(silentLog));
 * const response = await app.request("/Message", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ content: "hello" }),
 * });
 * console.log(response.status); // 202
 * ```
 * @module
 */
import type { Handler } from "hono";
import { messageFromRecord, readMessage } from "../functions/_shared/message.ts";
import type { IncomingMessage, Logger } from "../runtime/mod.ts";

/** The path the HTTP variants serve. */
export const MESSAGE_PATH = "/Message";

/** The body wrk sends. */
export const MESSAGE_BODY = JSON.stringify({ content: "benchmark message from wrk" });

/** The logger of the bare stack without telemetry: the limit logs nothing. */
export const silentLog: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/**
 * What a Deno user with the built-in OpenTelemetry writes instead of the host's logger: a JSON
 * line through `console`, which Deno also exports as an OTLP log record in the active span.
 */
export const consoleLog: Logger = {
  debug: (message, fields) => console.debug(JSON.stringify({ level: "debug", message, ...fields })),
  info: (message, fields) => console.info(JSON.stringify({ level: "info", message, ...fields })),
  warn: (message, fields) => console.warn(JSON.stringify({ level: "warn", message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: "error", message, ...fields })),
};

/** `POST /Message`: 202 with the message id, 4xx with `{error}` for a bad body. */
export function acceptMessage(log: Logger): Handler {
  return async (c) => {
    const input = await readMessage(c, { idRequired: false });
    if (input instanceof Response) return input;
    const id = input.id ?? crypto.randomUUID();
    log.info("message accepted", { message_id: id });
    return c.json({ id, status: "accepted" }, 202);
  };
}

/** Handles one consumed record; a malformed one throws (a PermanentError). */
export function handleRecord(record: IncomingMessage, log: Logger): string {
  const message = messageFromRecord(record);
  log.info("message handled", { message_id: message.id });
  return message.id;
}
