/**
 * The one logger: a JSON object per line on stdout with time, level, service, message, the active
 * `trace_id`/`span_id` and fields; each record also goes to an optional sink (OTLP logs). On a
 * terminal the same records are written as readable lines instead (time, level, service, short
 * trace id, message, fields; coloured unless `NO_COLOR`); `LOG_FORMAT=json|pretty` decides.
 *
 * @example
 * ```ts
import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger({ service: "app1", level: "info", write: (line) => lines.push(line) });
 * log.info("message stored", { message_id: "0b6f…" });
 * console.log(JSON.parse(lines[0]).message); // "message stored"
 * ```
 * @module
 */
import { serviceColor as colorOf } from "./service_colors.ts";
import { type SpanContext, trace } from "@opentelemetry/api";
import type { LogFormat, LogLevel } from "./config.ts";
import type { LogFields, Logger } from "./function.ts";

/** A log record as written to stdout. */
export interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly service: string;
  readonly message: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly [field: string]: unknown;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  readonly service: string;
  readonly level: LogLevel;
  /** Writes one line (`urgent` for errors); buffered stdout by default. */
  readonly write?: (line: string, urgent: boolean) => void;
  /**
   * Receives every record that passed the level filter, e.g. to export it over OTLP, with the
   * active span's context it was written in (its trace flags are not in the record) and its
   * time in epoch milliseconds (so no sink parses `time` back).
   */
  readonly sink?: (record: LogRecord, spanContext: SpanContext | undefined, time: number) => void;
  /**
   * How lines are written: `auto` (the default) is `pretty` when the lines go to a stdout that
   * is a terminal and JSON otherwise (pipes, files, a `write` of the caller's).
   */
  readonly format?: LogFormat;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Buffered stdout lines are written at once past this many characters. */
const FLUSH_AT_CHARS = 64 * 1024;
let pending: string[] = [];
let pendingChars = 0;
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Queues a line for stdout. The lines of one turn of the event loop go out together in one
 * write at the start of the next (or at once past 64 KiB), instead of a system call per line;
 * `urgent` lines (errors) are written at once with everything queued before them, and whatever
 * is queued when the process exits (`Deno.exit`, the end of the event loop) is written then.
 * Only SIGKILL can lose a line, and only one written in the last turn.
 */
export function writeStdout(line: string, urgent = false): void {
  pending.push(line);
  pendingChars += line.length + 1;
  if (urgent || pendingChars >= FLUSH_AT_CHARS) {
    flushStdout();
  } else if (flushTimer === undefined) {
    const timer = setTimeout(flushStdout, 0);
    Deno.unrefTimer(timer);
    flushTimer = timer;
  }
}

/**
 * Writes every queued line to stdout in full, even when the pipe takes it in pieces. A stdout
 * that cannot be written (closed, broken pipe) loses the lines, never the process.
 */
export function flushStdout(): void {
  if (flushTimer !== undefined) {
    clearTimeout(flushTimer);
    flushTimer = undefined;
  }
  if (pending.length === 0) return;
  const text = pending.join("\n") + "\n";
  pending = [];
  pendingChars = 0;
  let bytes = encoder.encode(text);
  try {
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch {
    // Nowhere left to say it; the OTLP copy of each record still goes out.
  }
}

globalThis.addEventListener("unload", flushStdout);

/** Creates a logger for a service. */
export function createLogger(options: LoggerOptions): Logger {
  const { service, write = writeStdout, sink } = options;
  const minimum = RANK[options.level];
  const pretty = options.format === "pretty" ||
    (options.format !== "json" && options.write === undefined && stdoutIsTerminal());
  // Colour only reaches a terminal: never a file, a pipe or a caller's writer.
  const color = pretty && !Deno.noColor && options.write === undefined && stdoutIsTerminal();
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (RANK[level] < minimum) return;
    const spanContext = trace.getActiveSpan()?.spanContext();
    const now = Date.now();
    const record: LogRecord = {
      time: isoTime(now),
      level,
      service,
      message,
      ...(spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {}),
    };
    const full = Object.assign(record, serializeFields(fields));
    write(pretty ? formatPretty(full, { color }) : toJson(full), level === "error");
    sink?.(full, spanContext, now);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

let isoSecond = NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()`, without formatting the whole date for every line (V8's
 * `toISOString` costs about a microsecond): the text up to the seconds is kept for the second.
 *
 * @example
 * ```ts
 * import { isoTime } from "./log.ts";
 * console.log(isoTime(Date.UTC(2026, 10, 30, 9, 5, 7, 42))); // "2026-11-30T09:05:07.042Z"
 * ```
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const text = new Date(second * 1000).toISOString();
    // A year outside 0000-9999 is written with a sign and six digits: no prefix to keep.
    if (text.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = text.slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

/** The names a record's own fields use; a field of the same name is kept as `field.<name>`. */
const RESERVED = new Set(["time", "level", "service", "message", "trace_id", "span_id"]);

/**
 * Turns errors into `{type, message}` (never a stack or a cause chain) and BigInts into strings,
 * and keeps fields from overwriting the record's own.
 */
function serializeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[RESERVED.has(key) ? `field.${key}` : key] = value instanceof Error
      ? { type: value.name, message: value.message.slice(0, 500) }
      : typeof value === "bigint"
      ? String(value)
      : value;
  }
  return out;
}

/** JSON for a record; a field JSON cannot encode (cycles, nested BigInts) becomes a string. */
function toJson(record: LogRecord): string {
  // Without a replacer first: JSON.stringify is several times faster without one, and only a
  // nested BigInt (a TypeError) or a cycle needs the careful path below.
  try {
    return JSON.stringify(record);
  } catch {
    // fall through
  }
  try {
    return JSON.stringify(record, (_, value) => typeof value === "bigint" ? String(value) : value);
  } catch {
    const safe: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) {
      try {
        JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v);
        safe[key] = value;
      } catch {
        safe[key] = `[unserializable ${typeof value}]`;
      }
    }
    return JSON.stringify(safe, (_, value) => typeof value === "bigint" ? String(value) : value);
  }
}

let terminal: boolean | undefined;
function stdoutIsTerminal(): boolean {
  try {
    terminal ??= Deno.stdout.isTerminal();
  } catch {
    terminal = false;
  }
  return terminal;
}

const ANSI = {
  reset: "\x1b[0m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
  level: {
    debug: "\x1b[90m",
    info: "\x1b[32m",
    warn: "\x1b[33m",
    error: "\x1b[1;31m",
  } as Record<LogLevel, string>,
};
const OWN_KEYS = new Set(["time", "level", "service", "message", "trace_id", "span_id"]);

/** Options of {@linkcode formatPretty}. */
export interface PrettyOptions {
  /** ANSI colours (leave off for `NO_COLOR` and anything that is not a terminal). */
  readonly color: boolean;
}

/**
 * A record as one readable line: local time with milliseconds, level, service, the first 8
 * digits of the trace id, the message, then the fields as `key=value` (strings with spaces or
 * quotes JSON-quoted, objects flattened as `key.inner=value`).
 *
 * @example
 * ```ts
 * import { formatPretty } from "./log.ts";
 * const line = formatPretty({
 *   time: "2026-11-30T09:05:07.042Z",
 *   level: "info",
 *   service: "app3",
 *   message: "message stored",
 *   trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   message_id: "0b6f",
 * }, { color: false });
 * console.log(line); // "09:05:07.042 INFO  app3     4bf92f35 message stored message_id=0b6f" in UTC
 * ```
 */
export function formatPretty(record: LogRecord, options: PrettyOptions): string {
  const paint = (code: string, text: string) =>
    options.color ? `${code}${text}${ANSI.reset}` : text;
  const date = new Date(record.time);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  const clock = Number.isNaN(date.getTime())
    ? record.time
    : `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
      pad(date.getMilliseconds(), 3)
    }`;
  const level = record.level.toUpperCase().padEnd(5);
  const service = record.service.padEnd(8);
  const serviceColor = record.service === "host" ? 250 : colorOf(record.service).ansi;
  const traceId = typeof record.trace_id === "string" ? record.trace_id.slice(0, 8) : "";
  const fields: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (!OWN_KEYS.has(key)) {
      flatten(key, value, fields, (k, v) => `${paint(ANSI.dim, `${k}=`)}${v}`);
    }
  }
  return [
    paint(ANSI.dim, clock),
    paint(ANSI.level[record.level] ?? "", level),
    paint(`\x1b[38;5;${serviceColor}m`, service),
    paint(ANSI.dim, traceId.padEnd(8)),
    record.level === "error" ? paint(ANSI.bold, record.message) : record.message,
    ...fields,
  ].join(" ");
}

/** Appends `key=value` for `value`, or one pair per leaf of an object (`key.inner=value`). */
function flatten(
  key: string,
  value: unknown,
  out: string[],
  pair: (key: string, value: string) => string,
): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.push(pair(key, "{}"));
    for (const [inner, nested] of entries) flatten(`${key}.${inner}`, nested, out, pair);
    return;
  }
  out.push(pair(key, fieldText(value)));
}

function fieldText(value: unknown): string {
  if (typeof value === "string") {
    return value === "" || /[\s"=\\]/.test(value) ? JSON.stringify(value) : value;
  }
  if (typeof value === "bigint") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return `[unserializable ${typeof value}]`;
  }
}
