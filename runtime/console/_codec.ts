/**
 * Hex and base64 for ids: the console's only binary-to-text needs (JSR's std is out of reach).
 *
 * @example
 * ```ts
 * import { decodeBase64, encodeHex } from "./_codec.ts";
 * console.log(encodeHex(decodeBase64("AQI="))); // "0102"
 * ```
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Bytes as lower-case hex. */
export function encodeHex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += HEX[bytes[i]];
  return text;
}

/** Standard or URL-safe base64, padded or not, as bytes; throws on anything else. */
export function decodeBase64(text: string): Uint8Array {
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(standard.padEnd(Math.ceil(standard.length / 4) * 4, "="));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
