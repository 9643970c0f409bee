/**
 * The one span helper for client calls (HTTP, PostgreSQL, Redis, Kafka): starts a span as a child
 * of the active context, runs the call inside it, records a failure, ends the span.
 *
 * @example
 * ```ts
 * import { SpanKind, trace } from "@opentelemetry/api";
 * import { withSpan } from "./span.ts";
 * const tracer = trace.getTracer("example");
 * const rows = await withSpan(tracer, "SELECT messages", SpanKind.CLIENT, {
 *   "db.system.name": "postgresql",
 * }, () => Promise.resolve([]));
 * ```
 * @module
 */
import {
  type Attributes,
  context,
  type Span,
  type SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { errorType } from "../errors.ts";

/** Runs `call` inside a new active span of `kind`, ending it when the call settles. */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  call: (span: Span) => Promise<T>,
): Promise<T> {
  // Set on the started span: startSpan would copy and check them once more, for samplers that
  // read attributes (none of those OTEL_TRACES_SAMPLER configures does).
  const span = tracer.startSpan(name, { kind });
  if (span.isRecording()) span.setAttributes(attributes);
  try {
    return await context.with(trace.setSpan(context.active(), span), call, undefined, span);
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Marks `span` failed with `error.type` and an exception event. Messages of errors from clients
 * are rewritten by the client modules first, so no query values or bodies reach the span.
 */
export function recordError(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute("error.type", type);
  span.recordException(
    error instanceof Error
      ? { name: type, message: error.message, stack: error.stack }
      : { name: type, message: String(error) },
  );
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : undefined,
  });
}

/**
 * `faas.coldstart` for an invocation of `fn`: true the first time `seen` meets it (the first
 * invocation of the function in this host), false after.
 */
export function isColdStart(seen: Set<string>, fn: string): boolean {
  if (seen.has(fn)) return false;
  seen.add(fn);
  return true;
}
