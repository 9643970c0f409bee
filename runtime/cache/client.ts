/**
 * The cache functions use: @upstash/redis over REST (the host's bridge, or Upstash itself), each
 * call a CLIENT span (`SET`, `db.system.name=redis`, query text without values) and a
 * `db_client_operation_duration_seconds` sample. An unreachable Redis becomes
 * {@linkcode DependencyUnavailableError}; the client's own error texts, which quote the command
 * and its values, never leave this module.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "../telemetry/metrics.ts";
 * import { connectCache } from "./client.ts";
 * const server = { address: "127.0.0.1", port: 6379 };
 * const cache = connectCache({ url: "http://127.0.0.1:8079", token: "secret", server,
 *   tracer: trace.getTracer("app4"), metrics: createMetrics() });
 * ```
 * @module
 */
import { Redis } from "@upstash/redis";
import {
  DependencyMisconfiguredError,
  DependencyUnavailableError,
  errorType,
  isConnectionFailure,
} from "../errors.ts";
import type { Cache } from "../function.ts";
import { dbCalls, type DbClientOptions } from "../telemetry/db_call.ts";

/** A failure other than an outage (a refused command, a client bug); its message is a code. */
export class CacheError extends Error {
  constructor(readonly code: string) {
    super(`redis error ${code}`);
    this.name = "CacheError";
  }
}

/** A cache the host can check. */
export type CacheClient = Cache & { ping(): Promise<void> };

/**
 * Options of {@linkcode connectCache}: the REST endpoint and its token, the telemetry, and the
 * Redis server behind the endpoint as far as the host knows it, for span attributes: none for
 * the embedded store, no port behind a REST endpoint (whose own port is not Redis's).
 */
export interface CacheOptions extends Pick<DbClientOptions, "tracer" | "metrics" | "server"> {
  readonly url: string;
  readonly token: string;
  /** The database index Redis works in (`db.namespace`); 0 unless the Redis URL names one. */
  readonly namespace?: string;
  readonly timeoutMs?: number;
}

/** A Redis error reply's code (`ERR`, `WRONGTYPE`…), after auto-pipelining's prefix. */
const REDIS_ERROR = /^(?:Command failed: )?([A-Z]{2,20})\b/;
/** Wrong credentials: a 401 from the endpoint, or the code Redis refused the bridge with. */
const REFUSED_CREDENTIALS =
  /^(?:Command failed: |redis unavailable: )?(Unauthorized|WRONGPASS|NOAUTH|NOPERM)\b/;
/** The host's bridge answers 503 "redis unavailable: …" when it cannot reach Redis. */
const BRIDGE_OUTAGE = /^redis unavailable\b/;

/**
 * Maps an @upstash/redis failure to what to do about it: unreachable, too slow or a bridge whose
 * Redis is down is an outage ({@linkcode DependencyUnavailableError}: wait, 503); refused
 * credentials a {@linkcode DependencyMisconfiguredError}; anything else a {@linkcode CacheError}.
 * The client's messages quote the command and its values, so only codes are kept.
 */
export function classifyCacheError(error: unknown): Error {
  if (error instanceof CacheError || error instanceof DependencyUnavailableError) return error;
  const message = error instanceof Error ? error.message : "";
  const refused = REFUSED_CREDENTIALS.exec(message)?.[1];
  if (refused !== undefined) {
    return new DependencyMisconfiguredError("redis", refused === "Unauthorized" ? "401" : refused);
  }
  if (isConnectionFailure(error) || BRIDGE_OUTAGE.test(message)) {
    return new DependencyUnavailableError("redis", error);
  }
  if (error instanceof Error && error.name === "UpstashError") {
    const code = REDIS_ERROR.exec(message)?.[1];
    if (code !== undefined) return new CacheError(code);
  }
  return new CacheError(errorType(error));
}

/** Creates the cache client; it connects per request, so nothing happens until the first call. */
export function connectCache(options: CacheOptions): CacheClient {
  const timeoutMs = options.timeoutMs ?? 5000;
  const redis = new Redis({
    url: options.url,
    token: options.token,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  const call = dbCalls({
    tracer: options.tracer,
    metrics: options.metrics,
    system: "redis",
    dependency: "redis",
    namespace: options.namespace ?? "0",
    server: options.server,
    classify: classifyCacheError,
    // Redis's own refusals carry its error prefix, the conventions' status code.
    statusCode: (failure) =>
      failure instanceof CacheError && /^[A-Z]{2,20}$/.test(failure.code)
        ? failure.code
        : undefined,
  });

  return {
    get: <T>(key: string) =>
      call({ "db.operation.name": "GET", "db.query.text": "GET ?" }, () => redis.get<T>(key)),
    async set(key, value, setOptions) {
      const ttl = setOptions?.ttlSeconds;
      const query = {
        "db.operation.name": "SET",
        "db.query.text": ttl ? "SET ? ? EX ?" : "SET ? ?",
      };
      await call(query, () => redis.set(key, value, ttl ? { ex: ttl } : undefined));
    },
    ping: () => redis.ping().then(() => {}, (error) => Promise.reject(classifyCacheError(error))),
  };
}
