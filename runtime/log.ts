/**
 * The one logger: a JSON object per line on stdout with time, level, service, message, the active
 * `trace_id`/`span_id` and fields; each record also goes to an optional sink (OTLP logs).
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger({ service: "app1", level: "info", write: (line) => lines.push(line) });
 * log.info("message stored", { message_id: "0b6f…" });
 * console.log(JSON.parse(lines[0]).message); // "message stored"
 * ```
 * @module
 */
import { trace } from "@opentelemetry/api";
import type { LogLevel } from "./config.ts";
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
  /** Writes one line; stdout by default. */
  readonly write?: (line: string) => void;
  /** Receives every record that passed the level filter, e.g. to export it over OTLP. */
  readonly sink?: (record: LogRecord) => void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Writes a line to stdout in full, even when the pipe takes it in pieces. */
export function writeStdout(line: string): void {
  let bytes = encoder.encode(line + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

/** Creates a logger for a service. */
export function createLogger(options: LoggerOptions): Logger {
  const { service, write = writeStdout, sink } = options;
  const minimum = RANK[options.level];
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (RANK[level] < minimum) return;
    const spanContext = trace.getActiveSpan()?.spanContext();
    const record: LogRecord = {
      time: new Date().toISOString(),
      level,
      service,
      message,
      ...(spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {}),
      ...serializeFields(fields),
    };
    write(JSON.stringify(record));
    sink?.(record);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

/** Turns errors into `{type, message}` so a record never carries a stack or a cause chain. */
function serializeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error
      ? { type: value.name, message: value.message.slice(0, 500) }
      : value;
  }
  return out;
}
