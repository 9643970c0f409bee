/**
 * A traced database client call, shared by the PostgreSQL and Redis clients: a CLIENT span with
 * the common `db.*` attributes, a failure classified into `db.response.status_code` and
 * `error.type`, `dependency_up` kept current, and a `db_client_operation_duration_seconds`
 * sample with the same labels and the span as its exemplar.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "./metrics.ts";
 * import { dbCalls } from "./db_call.ts";
 * const call = dbCalls({
 *   tracer: trace.getTracer("app4"),
 *   metrics: createMetrics(),
 *   system: "redis",
 *   dependency: "redis",
 *   namespace: "0",
 *   server: { address: "127.0.0.1", port: 6379 },
 *   classify: (error) => error instanceof Error ? error : new Error(String(error)),
 *   statusCode: () => undefined,
 * });
 * const value = await call({ "db.operation.name": "GET", "db.query.text": "GET ?" }, () =>
 *   Promise.resolve("cached"));
 * console.log(value); // "cached"
 * ```
 * @module
 */
import { type Span, SpanKind, type Tracer } from "@opentelemetry/api";
import { DependencyUnavailableError, errorType } from "../errors.ts";
import { reportDependency } from "../health.ts";
import { type Metrics, observe } from "./metrics.ts";
import { withSpan } from "./span.ts";

/** What every call of one database client shares. */
export interface DbClientOptions {
  readonly tracer: Tracer;
  readonly metrics: Metrics;
  /** `db.system.name`, and the peer's name in Tempo's service graph: `postgresql`, `redis`. */
  readonly system: string;
  /** Its name in `dependency_up` and in its errors: `postgres`, `redis`. */
  readonly dependency: string;
  /** `db.namespace`: the database (PostgreSQL) or database index (Redis). */
  readonly namespace: string;
  /** The server, as far as the host knows it (`server.address`, `server.port`). */
  readonly server?: { readonly address: string; readonly port?: number };
  /** Maps a client's failure to what callers get: an outage, or a failure of the call itself. */
  readonly classify: (error: unknown) => Error;
  /** The status code the server answered a failed call with (SQLSTATE, Redis error prefix). */
  readonly statusCode: (failure: Error) => string | undefined;
}

/** What one call adds: its operation and query text (parameterised, never values). */
export interface DbCallAttributes {
  readonly "db.operation.name": string;
  readonly "db.collection.name"?: string;
  readonly "db.query.summary"?: string;
  readonly "db.query.text": string;
}

/**
 * Runs one call of a database client, in a span named by the conventions' rule: the query
 * summary, else the operation. `run` may add attributes to the span.
 */
export type DbCall = <T>(
  attributes: DbCallAttributes,
  run: (span: Span) => Promise<T>,
) => Promise<T>;

/** Creates the traced call of the client `options` describes. */
export function dbCalls(options: DbClientOptions): DbCall {
  const { tracer, metrics, dependency } = options;
  const common = {
    "db.system.name": options.system,
    "db.namespace": options.namespace,
    "server.address": options.server?.address,
    "server.port": options.server?.port,
    // Tempo's service graph names a database node by peer.service first (then server.address,
    // which PostgreSQL and Redis share on one machine); service.peer.name is its current name.
    "service.peer.name": options.system,
    "peer.service": options.system,
  };
  return async (attributes, run) => {
    const name = attributes["db.query.summary"] ?? attributes["db.operation.name"];
    const started = performance.now();
    let failure: { type: string; status?: string } | undefined;
    let active: Span | undefined;
    try {
      return await withSpan(
        tracer,
        name,
        SpanKind.CLIENT,
        { ...common, ...attributes },
        async (span) => {
          active = span;
          try {
            const result = await run(span);
            reportDependency(metrics, dependency, true);
            return result;
          } catch (error) {
            const classified = options.classify(error);
            const outage = classified instanceof DependencyUnavailableError;
            const status = outage ? undefined : options.statusCode(classified);
            if (status !== undefined) span.setAttribute("db.response.status_code", status);
            if (outage) reportDependency(metrics, dependency, false);
            failure = { type: status ?? errorType(classified), status };
            throw classified;
          }
        },
      );
    } finally {
      observe(
        metrics.dbOperationDuration,
        {
          db_system_name: options.system,
          db_operation_name: attributes["db.operation.name"],
          db_collection_name: attributes["db.collection.name"],
          db_namespace: options.namespace,
          db_query_summary: attributes["db.query.summary"],
          db_response_status_code: failure?.status,
          server_address: options.server?.address,
          server_port: options.server?.port,
          error_type: failure?.type,
        },
        (performance.now() - started) / 1000,
        active,
      );
    }
  };
}
