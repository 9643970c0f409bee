/**
 * Makes text that may hold URLs safe to log or show: credentials in a URL's user-info and the
 * values of query parameters become `***`, wherever they appear in the text.
 *
 * @example
 * ```ts
 * import { redactUrls } from "./redact.ts";
 * console.log(redactUrls("https://user:pass@otlp.example/v1/traces?api-key=k"));
 * // "https://***@otlp.example/v1/traces?api-key=***"
 * ```
 * @module
 */

const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s"']*@/gi;
/** A query (from `?` to a space, quote or `#`), in a URL or in something meant to be one. */
const QUERY = /\?[^\s"'#]*/g;

/** `text` with every URL's user-info and query values replaced by `***`. */
export function redactUrls(text: string): string {
  return text
    .replace(USER_INFO, "$1***@")
    .replace(QUERY, (query) => query.replace(/([?&][^=&]+=)[^&]*/g, "$1***"));
}
