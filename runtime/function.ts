/**
 * The function model: what a service is made of and what its functions receive.
 *
 * A service names itself and its default port, declares the backing services it uses and the
 * settings it reads, and bundles HTTP functions (a Hono app), Kafka-triggered functions and cron
 * functions. Each function is stateless and gets its clients and settings from a
 * {@linkcode FunctionContext}, so it never imports runtime internals and runs the same in the
 * host, in a test or on an edge platform.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { defineService } from "./function.ts";
 * import { integerSetting } from "./settings.ts";
 *
 * export const hello = defineService({
 *   name: "hello",
 *   port: 8010,
 *   uses: [],
 *   settings: { greetings: integerSetting("HELLO_GREETINGS", 1, { min: 1, max: 10 }) },
 *   http: (ctx) =>
 *     new Hono().get("/hello", (c) => c.json({ from: ctx.service, times: ctx.config.greetings })),
 * });
 * ```
 * @module
 */
import type { Hono } from "hono";
import type { Migration } from "./db/migrate.ts";
import type { SettingsSpec, SettingValues } from "./settings.ts";

export type { Migration, SettingsSpec, SettingValues };

/** Structured fields attached to a log record. */
export type LogFields = Record<string, unknown>;

/** Writes structured log records carrying the active trace and span ids. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A value bound to a SQL parameter. */
export type SqlValue = string | number | boolean | null | Date | Uint8Array;
/** A row returned by a query. */
export type Row = Record<string, unknown>;

/** PostgreSQL, through parameterised queries only: values never enter the query text. */
export interface Database {
  /** Runs `text` with `$1…$n` bound to `params` and returns the rows. */
  query<T extends Row = Row>(text: string, params?: readonly SqlValue[]): Promise<T[]>;
}

/** A JSON cache (Redis). */
export interface Cache {
  /** The value stored under `key`, or null. */
  get<T>(key: string): Promise<T | null>;
  /** Stores `value` as JSON under `key`, expiring after `ttlSeconds` when given. */
  set(key: string, value: unknown, options?: { ttlSeconds?: number }): Promise<void>;
}

/** A message to publish. The value is sent as JSON unless it is already a string. */
export interface OutgoingMessage {
  readonly key: string;
  readonly value: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Where the broker stored a published message. */
export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Publishes to Kafka topics; trace context travels in the message headers. */
export interface Producer {
  send(topic: string, message: OutgoingMessage): Promise<Delivery>;
}

/** A message delivered to a Kafka-triggered function. */
export interface IncomingMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: Date;
}

/** The settings a function reads: the values of what its service's `settings` declare. */
export type FunctionConfig = Readonly<Record<string, unknown>>;

/**
 * Fault flags (flagd definitions in `FLAGS_FILE`), evaluated for this service through OpenFeature.
 * An evaluation whose value is not "off" is recorded on the active span as a
 * `feature_flag.evaluation` event, so every fault a flag injects is visible where it acted.
 */
export interface Flags {
  /** The number flag `key` holds now; `off` (default 0) when it is off, unknown or not a number. */
  number(key: string, off?: number): Promise<number>;
}

/** A backing service a function may use; declaring it gives the context its client. */
export type Dependency = "postgres" | "redis" | "kafka";

interface Clients {
  readonly db: Database;
  readonly cache: Cache;
  readonly producer: Producer;
}
type ClientOf = { postgres: "db"; redis: "cache"; kafka: "producer" };

/** What every function receives: its service's identity, settings, logger and traced fetch. */
export interface BaseContext<C = FunctionConfig> {
  readonly service: string;
  readonly config: C;
  readonly log: Logger;
  /** `fetch` with a client span and W3C trace context headers. */
  readonly fetch: typeof fetch;
  /** Fault flags; see {@linkcode Flags}. */
  readonly flags: Flags;
}

/** The context of a function whose service declares the dependencies `D` and settings `C`. */
export type FunctionContext<D extends Dependency = Dependency, C = FunctionConfig> =
  & BaseContext<C>
  & Pick<Clients, ClientOf[D]>;

/** A function triggered by each message of a topic, in a consumer group. */
export interface KafkaFunction<D extends Dependency = Dependency, C = FunctionConfig> {
  readonly name: string;
  readonly topic: string;
  readonly group: string;
  /** Handles one message; throwing retries it, a {@linkcode PermanentError} dead-letters it. */
  handle(message: IncomingMessage, ctx: FunctionContext<D, C>): Promise<void>;
}

/** A function run on a croner schedule; a run never overlaps the previous one. */
export interface CronFunction<D extends Dependency = Dependency, C = FunctionConfig> {
  readonly name: string;
  /** The croner pattern, taken from the settings so it can be configured. */
  schedule(config: C): string;
  run(ctx: FunctionContext<D, C>): Promise<void>;
}

/**
 * A service: its name (`service.name`, the `--service` name), its default port (`<NAME>_PORT`
 * overrides it), the dependencies it uses, the settings it reads, and its functions.
 */
export interface ServiceDefinition<
  D extends Dependency = Dependency,
  S extends SettingsSpec = SettingsSpec,
> {
  readonly name: string;
  readonly port: number;
  readonly uses: readonly D[];
  /** The environment variables its functions read, as `ctx.config`, checked at start. */
  readonly settings?: S;
  /** Schema changes applied at start when the service uses PostgreSQL. */
  readonly migrations?: readonly Migration[];
  /** The HTTP functions as a Hono app; `app.fetch` is a plain, edge-compatible fetch handler. */
  http?(ctx: FunctionContext<D, SettingValues<S>>): Hono;
  readonly consumers?: readonly KafkaFunction<D, SettingValues<S>>[];
  readonly crons?: readonly CronFunction<D, SettingValues<S>>[];
  /** Topics its functions publish to; the host says at start when nothing it runs consumes one. */
  readonly publishes?: readonly string[];
}

/**
 * Declares a service, inferring its dependencies and settings so its functions see only those
 * clients and their settings typed.
 */
export function defineService<
  D extends Dependency = never,
  // deno-lint-ignore ban-types
  S extends SettingsSpec = {},
>(definition: ServiceDefinition<D, S>): ServiceDefinition<D, S> {
  return definition;
}
