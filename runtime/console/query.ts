/**
 * Parses the JSON API's query strings into filters, naming the first bad parameter.
 *
 * @example
 * ```ts
 * import { parseTraceFilter } from "./query.ts";
 * const filter = parseTraceFilter(new URLSearchParams("error=true&attr=message.id:42"));
 * console.log(filter); // { error: true, attr: { key: "message.id", value: "42" } }
 * ```
 * @module
 */
import { type LogFilter, SEVERITIES, type Severity, type TraceFilter } from "./model.ts";

/** A query parameter the API cannot accept. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

/** A W3C trace id: 32 lower-case hex digits (upper case accepted). */
export const TRACE_ID = /^[0-9a-fA-F]{32}$/;
/** The most rows one request returns. */
export const MAX_LIMIT = 10_000;

function only(params: URLSearchParams, allowed: readonly string[]): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw new QueryError(`unknown query parameter "${key}"; known: ${allowed.join(", ")}`);
    }
  }
}

function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new QueryError(`query parameter "${name}" is given more than once`);
  const value = values[0]?.trim();
  return value === "" ? undefined : value;
}

function limit(params: URLSearchParams): number | undefined {
  const raw = single(params, "limit");
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_LIMIT) {
    throw new QueryError(`limit=${JSON.stringify(raw)} must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}

/** `GET /api/traces?service=&name=&error=&minMs=&attr=key:value&limit=`. */
export function parseTraceFilter(params: URLSearchParams): TraceFilter {
  only(params, ["service", "name", "error", "minMs", "attr", "limit"]);
  const filter: { -readonly [K in keyof TraceFilter]: TraceFilter[K] } = {};
  const service = single(params, "service");
  if (service !== undefined) filter.service = service;
  const name = single(params, "name");
  if (name !== undefined) filter.name = name;
  const error = single(params, "error");
  if (error !== undefined) {
    if (!["true", "false", "1", "0"].includes(error)) {
      throw new QueryError(`error=${JSON.stringify(error)} must be true or false`);
    }
    filter.error = error === "true" || error === "1";
  }
  const minMs = single(params, "minMs");
  if (minMs !== undefined) {
    const value = Number(minMs);
    if (!Number.isFinite(value) || value < 0) {
      throw new QueryError(`minMs=${JSON.stringify(minMs)} must be a number of milliseconds >= 0`);
    }
    filter.minMs = value;
  }
  const attr = single(params, "attr");
  if (attr !== undefined) {
    const at = attr.indexOf(":");
    if (at <= 0) {
      throw new QueryError(`attr=${JSON.stringify(attr)} must be key:value, e.g. message.id:42`);
    }
    filter.attr = { key: attr.slice(0, at), value: attr.slice(at + 1) };
  }
  const rows = limit(params);
  if (rows !== undefined) filter.limit = rows;
  return filter;
}

/** `GET /api/logs?traceId=&service=&severity=&q=&limit=`. */
export function parseLogFilter(params: URLSearchParams): LogFilter {
  only(params, ["traceId", "service", "severity", "q", "limit"]);
  const filter: { -readonly [K in keyof LogFilter]: LogFilter[K] } = {};
  const traceId = single(params, "traceId");
  if (traceId !== undefined) {
    if (!TRACE_ID.test(traceId)) {
      throw new QueryError(`traceId=${JSON.stringify(traceId)} must be 32 hex digits`);
    }
    filter.traceId = traceId.toLowerCase();
  }
  const service = single(params, "service");
  if (service !== undefined) filter.service = service;
  const severity = single(params, "severity")?.toLowerCase();
  if (severity !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(severity)) {
      throw new QueryError(
        `severity=${JSON.stringify(severity)} must be one of ${SEVERITIES.join(", ")}`,
      );
    }
    filter.severity = severity as Severity;
  }
  const q = single(params, "q");
  if (q !== undefined) filter.q = q;
  const rows = limit(params);
  if (rows !== undefined) filter.limit = rows;
  return filter;
}
