/**
 * PostgreSQL for functions: parameterised queries through postgres.js, each a CLIENT span
 * (`INSERT messages`, `db.system.name=postgresql`) and a `db_client_operation_duration_seconds`
 * sample. Connection failures become {@linkcode DependencyUnavailableError} (503, wait), refused
 * credentials {@linkcode DependencyMisconfiguredError}, and every other error a
 * {@linkcode DatabaseError} carrying only the SQLSTATE or code, never values.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "../telemetry/metrics.ts";
 * import { connectPostgres } from "./postgres.ts";
 * const db = connectPostgres("postgres://postgres@127.0.0.1:5432/postgres", {
 *   tracer: trace.getTracer("app3"),
 *   metrics: createMetrics(),
 * });
 * // const rows = await db.query("select id from messages where id = $1", [id]);
 * await db.close();
 * ```
 * @module
 */
import postgres from "postgres";
import {
  DependencyMisconfiguredError,
  DependencyUnavailableError,
  errorType,
  isConnectionFailure,
} from "../errors.ts";
import type { Database, Row, SqlValue } from "../function.ts";
import { dbCalls, type DbClientOptions } from "../telemetry/db_call.ts";
import { describeQuery } from "./sql.ts";

/** A SQL error, described by its SQLSTATE (or the client's own error code) only. */
export class DatabaseError extends Error {
  constructor(readonly code: string) {
    super(`postgres error ${code}`);
    this.name = "DatabaseError";
  }
}

/** A database client the host can check, migrate through, and close. */
export interface PostgresClient extends Database {
  /** The raw postgres.js client, for the migration runner's transaction. */
  readonly sql: postgres.Sql;
  /** Resolves when the server answers `select 1`. */
  ping(): Promise<void>;
  /** Runs the `prepare` step (migrations) now if it has not succeeded yet. */
  prepare(): Promise<void>;
  /** Closes the pool, letting running queries finish. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectPostgres}. */
export interface PostgresOptions extends Pick<DbClientOptions, "tracer" | "metrics"> {
  /** Pool size; PGlite serves one connection. */
  readonly max?: number;
  /** Runs before the first query of the pool, e.g. migrations; retried until it succeeds. */
  readonly prepare?: (client: PostgresClient) => Promise<void>;
}

/** SQLSTATEs that mean the server is going away or full: an outage, not the statement's fault. */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "53400"]);

/**
 * SQLSTATEs and postgres.js codes that mean the server refuses this host's settings: a wrong
 * user or password (class 28), a database that does not exist (3D000), an authentication the
 * client cannot do.
 */
const MISCONFIGURED = /^(28[0-9A-Z]{3}|3D000|SASL_SIGNATURE_MISMATCH|AUTH_TYPE_NOT_IMPLEMENTED)$/;

/**
 * Maps a postgres.js error to what the caller should do about it: a connection that failed or
 * timed out, or a server shutting down or full, is an outage
 * ({@linkcode DependencyUnavailableError}: wait, 503); refused credentials are a configuration
 * error ({@linkcode DependencyMisconfiguredError}: readiness says so); everything else, with a
 * SQLSTATE or not (postgres.js's own errors from a bad call included), is a
 * {@linkcode DatabaseError} that is retried and then dead-lettered like any failure.
 */
export function classifyPostgresError(error: unknown): Error {
  if (error instanceof DatabaseError || error instanceof DependencyUnavailableError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string" && MISCONFIGURED.test(code)) {
    return new DependencyMisconfiguredError("postgres", code, error);
  }
  const isSqlState = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
  if (
    isConnectionFailure(error) ||
    (isSqlState && (code.startsWith("08") || UNAVAILABLE_STATES.has(code)))
  ) {
    return new DependencyUnavailableError("postgres", error);
  }
  return new DatabaseError(errorType(error));
}

/** Connects lazily to the server at `url`. */
export function connectPostgres(url: string, options: PostgresOptions): PostgresClient {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: 5,
    // Reconnect within a second of the server's return; the default backoff reaches 20 s,
    // and queries wait in the pool meanwhile.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    idle_timeout: 30,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    connection: { application_name: "otel-functions" },
  });
  const target = new URL(url.replace(/^postgres(ql)?:/, "http:"));
  const server = {
    address: target.hostname || "localhost",
    port: Number(target.port) || 5432,
  };
  const call = dbCalls({
    tracer: options.tracer,
    metrics: options.metrics,
    system: "postgresql",
    dependency: "postgres",
    server,
    // db.namespace is the database the connection was opened on (the schema is not tracked).
    namespace: decodeURIComponent(target.pathname.slice(1)) || "postgres",
    classify: classifyPostgresError,
    statusCode: (failure) => failure instanceof DatabaseError ? failure.code : undefined,
  });
  let prepared: Promise<void> | undefined;

  const run = <T extends Row>(text: string, params: readonly SqlValue[]): Promise<T[]> => {
    const { operation, collection } = describeQuery(text);
    const summary = collection ? `${operation} ${collection}` : operation;
    return call({
      "db.operation.name": operation,
      "db.collection.name": collection,
      "db.query.summary": summary,
      "db.query.text": text,
    }, async (span) => {
      const rows = await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
      span.setAttribute("db.response.returned_rows", rows.length);
      return rows as unknown as T[];
    });
  };

  const client: PostgresClient = {
    sql,
    prepare() {
      if (!options.prepare) return Promise.resolve();
      prepared ??= options.prepare(client).catch((error) => {
        prepared = undefined;
        throw classifyPostgresError(error);
      });
      return prepared;
    },
    async query<T extends Row = Row>(text: string, params: readonly SqlValue[] = []) {
      await client.prepare();
      return run<T>(text, params);
    },
    async ping() {
      try {
        await sql`select 1`;
      } catch (error) {
        throw classifyPostgresError(error);
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
  return client;
}
