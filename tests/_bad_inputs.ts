/**
 * Generated bad requests for every endpoint: malformed JSON, wrong types, missing and unknown
 * fields, oversized bodies, wrong content types, bad ids, wrong methods, huge headers, and
 * seeded random bytes and JSON values. Every one must get a 4xx with a JSON `{error}`.
 *
 * @example
 * ```ts
 * import { badRequests } from "./_bad_inputs.ts";
 * const cases = badRequests({ app1: "http://127.0.0.1:8001" }, 65536);
 * console.log(cases.length > 300); // true
 * ```
 * @module
 */

/** One request to send. */
export interface BadRequest {
  readonly name: string;
  readonly url: string;
  readonly init: RequestInit;
  /** Whether the answer must carry a JSON `{error}` (the HTTP parser's own 400 carries none). */
  readonly jsonError: boolean;
  /** The exact status the answer must have, where one is required, and methods `Allow` names. */
  readonly expect?: { readonly status: number; readonly allow?: readonly string[] };
}

/** A deterministic generator (mulberry32), so a failing case can be replayed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID_ID = "0b6f3f0e-8f43-4c1e-9a5e-2d6a5d6f1a10";

const MALFORMED_JSON = [
  "",
  " ",
  "{",
  "}",
  '{"content":',
  "{'content':'x'}",
  "{content: 1}",
  "[1,2",
  "nul",
  "tru",
  "NaN",
  '{"content":"x",}',
  "\u0000",
  '{"content":"x"}garbage',
  '{"content":"\\x"}',
  '"unterminated',
  "[".repeat(5000) + "]".repeat(4999),
  '{"content":"x"',
  "\ufeff{}",
  "0x10",
];

const NOT_OBJECTS = [
  "null",
  "0",
  "-1",
  "1.5",
  "1e999999",
  "true",
  "false",
  '"str"',
  "[]",
  "[{}]",
  '[{"content":"x"}]',
];

const BAD_CONTENT: unknown[] = [
  {},
  { content: null },
  { content: 1 },
  { content: true },
  { content: [] },
  { content: {} },
  { content: "" },
  { content: "   " },
  { content: "\t\n" },
  { content: "a".repeat(10_001) },
  { content: "\u0000" },
  { content: "a\u0000b" },
  { content: "a\ud800b" },
  { content: "\udfff" },
  { content: ["x"] },
];

const BAD_IDS: unknown[] = [
  1,
  null,
  true,
  "",
  "not-a-uuid",
  "123",
  VALID_ID.replaceAll("-", ""),
  `{${VALID_ID}}`,
  `${VALID_ID} `,
  VALID_ID.replace("0", "g"),
  "z".repeat(36),
  {},
  [],
  VALID_ID + VALID_ID,
  VALID_ID.slice(1),
];

const UNKNOWN_FIELDS = [
  '{"content":"x","extra":1}',
  '{"content":"x","__proto__":{"polluted":true}}',
  '{"content":"x","constructor":{"prototype":{}}}',
  '{"CONTENT":"x"}',
  '{"content":"x","id":"' + VALID_ID + '","Id":"x"}',
];

const CONTENT_TYPES = [
  undefined,
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/jsonx",
  "json",
  "text/json",
];

const BAD_PATH_IDS = [
  "abc",
  "1",
  "%00",
  "%E0%A4%A",
  "a".repeat(1000),
  VALID_ID.replaceAll("-", ""),
  "..%2F..%2Fetc%2Fpasswd",
  "%20",
  "null",
  "undefined",
  `${VALID_ID}%20`,
  "' or 1=1 --",
];

/** A random JSON value: any type, some depth. */
function randomJson(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.floor(next() * 1e9) - 5e8;
    case 3:
      return randomString(next, Math.floor(next() * 40));
    case 4:
      return next() * 1e6;
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(next, depth + 1));
    default:
      return Object.fromEntries(
        Array.from(
          { length: Math.floor(next() * 4) },
          () => [randomString(next, 1 + Math.floor(next() * 8)), randomJson(next, depth + 1)],
        ),
      );
  }
}

function randomString(next: () => number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(Math.floor(next() * 0x3000));
  return text;
}

/** The generated cases for the services at `urls`, given the host's body limit. */
export function badRequests(
  urls: { app1?: string; app3?: string; app4?: string },
  maxBodyBytes: number,
  seed = 20261125,
): BadRequest[] {
  const next = random(seed);
  const cases: BadRequest[] = [];
  const json = (name: string, url: string, body: string, contentType = "application/json") =>
    cases.push({
      name,
      url,
      init: { method: "POST", headers: { "content-type": contentType }, body },
      jsonError: true,
    });
  const posts = [
    urls.app1 && `${urls.app1}/Message`,
    urls.app1 && `${urls.app1}/Message/Post-Message`,
    urls.app3 && `${urls.app3}/PostMessage`,
    urls.app3 && `${urls.app3}/Message/Post-Message`,
  ].filter((url): url is string => Boolean(url));
  for (const url of posts) {
    MALFORMED_JSON.forEach((body, i) => json(`malformed JSON #${i}`, url, body));
    NOT_OBJECTS.forEach((body) => json(`not an object: ${body.slice(0, 20)}`, url, body));
    BAD_CONTENT.forEach((body, i) => json(`bad content #${i}`, url, JSON.stringify(body)));
    BAD_IDS.forEach((id, i) => json(`bad id #${i}`, url, JSON.stringify({ content: "valid", id })));
    UNKNOWN_FIELDS.forEach((body, i) => json(`unknown field #${i}`, url, body));
    CONTENT_TYPES.forEach((type) =>
      cases.push({
        name: `content type ${type}`,
        url,
        init: {
          method: "POST",
          headers: type ? { "content-type": type } : {},
          body: '{"content":"x"}',
        },
        jsonError: true,
      })
    );
    json("oversized body", url, JSON.stringify({ content: "a".repeat(maxBodyBytes + 10) }));
    json("source where not accepted", url, '{"content":"x","source":"bad source!"}');
    for (let i = 0; i < 12; i++) {
      const value = randomJson(next);
      // Random values that happen to be a valid message are not bad input.
      if (typeof value === "object" && value && !Array.isArray(value) && "content" in value) {
        continue;
      }
      json(`random JSON #${i}`, url, JSON.stringify(value));
    }
    for (let i = 0; i < 8; i++) {
      const bytes = new Uint8Array(1 + Math.floor(next() * 200)).map(() =>
        Math.floor(next() * 256)
      );
      cases.push({
        name: `random bytes #${i}`,
        url,
        init: { method: "POST", headers: { "content-type": "application/json" }, body: bytes },
        jsonError: true,
      });
    }
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      // GET may match another route (app3's GET /Message/:id): any 4xx then.
      const expect = method === "GET" ? undefined : { status: 405, allow: ["POST"] };
      cases.push({ name: `method ${method}`, url, init: { method }, jsonError: true, expect });
    }
    cases.push({
      name: "headers over the host's limit",
      url,
      init: {
        method: "POST",
        headers: { "content-type": "application/json", "x-padding": "a".repeat(20_000) },
        body: '{"content":"x"}',
      },
      jsonError: true,
      expect: { status: 431 },
    });
    cases.push({
      name: "headers over the HTTP parser's limit",
      url,
      init: {
        method: "POST",
        headers: { "content-type": "application/json", "x-padding": "a".repeat(300_000) },
        body: '{"content":"x"}',
      },
      jsonError: false,
    });
  }
  for (const base of Object.values(urls).filter((url): url is string => Boolean(url))) {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      cases.push({
        name: `method POST on ${path}`,
        url: `${base}${path}`,
        init: { method: "POST" },
        jsonError: true,
        expect: { status: 405, allow: ["GET", "HEAD"] },
      });
      cases.push({
        name: `headers over the host's limit on ${path}`,
        url: `${base}${path}`,
        init: { headers: { "x-padding": "a".repeat(20_000) } },
        jsonError: true,
        expect: { status: 431 },
      });
    }
  }
  for (const base of [urls.app3, urls.app4].filter((url): url is string => Boolean(url))) {
    BAD_PATH_IDS.forEach((id) =>
      cases.push({
        name: `bad path id ${id.slice(0, 20)}`,
        url: `${base}/Message/${id}`,
        init: { method: "GET" },
        jsonError: true,
      })
    );
    cases.push({
      name: "unknown path",
      url: `${base}/nope`,
      init: { method: "GET" },
      jsonError: true,
    });
  }
  return cases;
}
