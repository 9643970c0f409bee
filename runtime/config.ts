/**
 * The host's configuration, read once from the environment and the command line and checked
 * before anything starts. Every problem is reported at once, naming the variable and the value.
 * The host's own settings are read here; each service's name, port and settings come from its
 * definition, so the host knows nothing of the application it runs.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * import { defineService } from "./function.ts";
 * const services = { a: defineService({ name: "a", port: 9001, uses: [] }) };
 * const config = loadConfig({ A_PORT: "9002" }, ["--service", "a"], services);
 * console.log(config.services, config.ports.a); // ["a"] 9002
 * ```
 * @module
 */
import { FSYNC_POLICIES, type FsyncPolicy } from "./file_sync.ts";
import type { FunctionConfig, ServiceDefinition } from "./function.ts";
import { redactUrls } from "./redact.ts";
import { checkHttpUrl, type LocateService, readSettings } from "./settings.ts";

/** The services a host can run, by name, in start order (what others call first goes last). */
export type Services = Readonly<Record<string, ServiceDefinition>>;

/** Where PostgreSQL is: a server, or the embedded PGlite kept under the data folder. */
export type DatabaseConfig = { kind: "postgres"; url: string } | { kind: "embedded"; dir: string };
/** Where Kafka is: brokers, or the embedded event bus kept under the data folder. */
export type KafkaConfig = { kind: "kafka"; brokers: string[] } | { kind: "embedded"; dir: string };
/** Where Redis is: a server reached through the host's REST bridge, a REST endpoint, or embedded. */
export type RedisConfig =
  | { kind: "redis"; url: string }
  | { kind: "upstash"; url: string; token: string }
  | { kind: "embedded"; dir: string };

/** `OTEL_TRACES_SAMPLER` values from the OpenTelemetry SDK environment specification. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/**
 * Telemetry settings from the standard `OTEL_*` variables. Only what differs per host is kept
 * (tests run several hosts in one process): the SDK reads the sampler, resource attributes and
 * exporter headers from the environment itself, and the loader only checks them, since the SDK
 * would fall back silently on a bad value.
 */
export interface TelemetryConfig {
  readonly disabled: boolean;
  readonly tracesEndpoint: string;
  readonly logsEndpoint: string;
  /**
   * Whether spans and log records go out over OTLP. Always when the console is off; when it is
   * on, only to an endpoint the environment names (the console is then the default destination,
   * and nobody is told about failing exports to a localhost:4318 that nobody runs).
   */
  readonly exportTraces: boolean;
  readonly exportLogs: boolean;
  /** Spans and log records queued for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_…`). */
  readonly maxQueueSize: { readonly traces: number; readonly logs: number };
  /**
   * Limits on the attributes of each exported log record, as the SDK environment specification
   * names them: `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` (default 128) and
   * `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` (default none), each falling back to
   * `OTEL_ATTRIBUTE_COUNT_LIMIT` and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`. (The span SDK reads the
   * span limits itself; the loader checks those.)
   */
  readonly logRecordLimits: {
    readonly attributeCountLimit: number;
    readonly attributeValueLengthLimit: number;
  };
}

/** The console's settings (`CONSOLE`, `CONSOLE_HOST`, `CONSOLE_PORT`, …). */
export interface ConsoleConfig {
  /** `CONSOLE=off` turns it off. */
  readonly enabled: boolean;
  /** `CONSOLE_HOST`, 127.0.0.1 unless set; any other address needs the token. */
  readonly hostname: string;
  /** `CONSOLE_PORT`, 8000 by default; 0 picks a free port. */
  readonly port: number;
  /** `CONSOLE_TOKEN`: the token to require off loopback (a random one when unset). */
  readonly token?: string;
  /** `CONSOLE_MAX_TRACES` and `CONSOLE_MAX_LOGS`: the buffers' sizes (10,000 each). */
  readonly maxTraces: number;
  readonly maxLogs: number;
}

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/** How log lines are written to stdout: `auto` is readable on a terminal and JSON elsewhere. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
/** A `LOG_FORMAT` value. */
export type LogFormat = typeof LOG_FORMATS[number];

/** The validated configuration of one host process. */
export interface Config {
  /** The services to run (`--service`, `SERVICES`; all by default), in start order. */
  readonly services: readonly string[];
  readonly hostname: string;
  /** Each service's port: `<NAME>_PORT`, else the one its definition names. */
  readonly ports: Readonly<Record<string, number>>;
  /** `<NAME>_URL`: where a service is, for callers when it runs in another process. */
  readonly serviceUrls: Readonly<Record<string, string | undefined>>;
  /** Each service's settings, checked; the values once `locate` can tell where services are. */
  readonly settings: Readonly<Record<string, (locate: LocateService) => FunctionConfig>>;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  readonly kafka: KafkaConfig;
  readonly redis: RedisConfig;
  /** When the embedded bus and store sync their appends to disk (`EMBEDDED_FSYNC`). */
  readonly embeddedFsync: FsyncPolicy;
  readonly maxBodyBytes: number;
  readonly kafkaMaxAttempts: number;
  readonly kafkaRetryBackoffMs: number;
  readonly kafkaSessionTimeoutMs: number;
  /** Producer batching: linger, and the most messages and bytes in one produce request. */
  readonly kafkaBatch: {
    readonly lingerMs: number;
    readonly maxMessages: number;
    readonly maxBytes: number;
  };
  /** Messages of a fetched batch a consumer handles at once (in order per key). */
  readonly kafkaConsumerConcurrency: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly telemetry: TelemetryConfig;
  readonly console: ConsoleConfig;
  /** The flagd flag-definition file of the fault flags (`FLAGS_FILE`, default `flags.json`). */
  readonly flagsFile: string;
}

/** Thrown by {@linkcode loadConfig} with every problem found. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** The prefix of a service's variables: `app1` reads `APP1_PORT` and `APP1_URL`. */
export function envPrefix(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/**
 * Reads the configuration from `env` and the command-line `args` (`--service a,b`) for the
 * host running `services`.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  args: readonly string[] = [],
  services: Services = {},
): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const known = Object.keys(services);
  const selected = parseServices(args, read("SERVICES"), known, problems);
  const ports: Record<string, number> = {};
  const serviceUrls: Record<string, string | undefined> = {};
  const settings: Record<string, (locate: LocateService) => FunctionConfig> = {};
  for (const [name, definition] of Object.entries(services)) {
    const prefix = envPrefix(name);
    ports[name] = integer(`${prefix}_PORT`, definition.port, 0, 65535);
    const url = read(`${prefix}_URL`);
    serviceUrls[name] = url === undefined
      ? undefined
      : checkHttpUrl(`${prefix}_URL`, url, problems);
    settings[name] = readSettings(definition.settings ?? {}, env, problems);
  }

  const taken = new Map<number, string>();
  for (const name of selected) {
    const port = ports[name];
    if (port === 0) continue;
    const other = taken.get(port);
    if (other) problems.push(`${other} and ${name} cannot both listen on port ${port}`);
    taken.set(port, name);
  }

  const dataDir = read("DATA_DIR") ?? ".data";
  const consoleConfig = parseConsole(read, integer, problems);
  const clash = consoleConfig.enabled && consoleConfig.port !== 0 && taken.get(consoleConfig.port);
  if (clash) {
    problems.push(`the console and ${clash} cannot both listen on port ${consoleConfig.port}`);
  }
  const config: Config = {
    services: selected,
    hostname: read("HOST") ?? "127.0.0.1",
    ports,
    serviceUrls,
    settings,
    dataDir,
    database: parseDatabase(read("DATABASE_URL"), dataDir, problems),
    kafka: parseKafka(read("KAFKA_BROKERS"), dataDir, problems),
    redis: parseRedis(read, dataDir, problems),
    embeddedFsync: oneOf(
      "EMBEDDED_FSYNC",
      read("EMBEDDED_FSYNC")?.toLowerCase(),
      FSYNC_POLICIES,
      "interval",
      problems,
    ),
    maxBodyBytes: integer("MAX_BODY_BYTES", 64 * 1024, 256, 64 * 1024 * 1024),
    kafkaMaxAttempts: integer("KAFKA_MAX_ATTEMPTS", 5, 1, 100),
    kafkaRetryBackoffMs: integer("KAFKA_RETRY_BACKOFF_MS", 200, 0, 60_000),
    kafkaSessionTimeoutMs: integer("KAFKA_SESSION_TIMEOUT_MS", 10_000, 1000, 300_000),
    kafkaBatch: {
      lingerMs: integer("KAFKA_LINGER_MS", 5, 0, 10_000),
      maxMessages: integer("KAFKA_BATCH_MAX_MESSAGES", 1000, 1, 100_000),
      maxBytes: integer("KAFKA_BATCH_MAX_BYTES", 512 * 1024, 1024, 64 * 1024 * 1024),
    },
    kafkaConsumerConcurrency: integer("KAFKA_CONSUMER_CONCURRENCY", 64, 1, 1000),
    shutdownTimeoutMs: integer("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: oneOf("LOG_LEVEL", read("LOG_LEVEL")?.toLowerCase(), LOG_LEVELS, "info", problems),
    logFormat: oneOf(
      "LOG_FORMAT",
      read("LOG_FORMAT")?.toLowerCase(),
      LOG_FORMATS,
      "auto",
      problems,
    ),
    telemetry: parseTelemetry(read, problems, consoleConfig.enabled),
    console: consoleConfig,
    flagsFile: read("FLAGS_FILE") ?? "flags.json",
  };
  // Services may read the same variable (two callers of one service): say each problem once.
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return config;
}

function parseServices(
  args: readonly string[],
  fromEnv: string | undefined,
  known: readonly string[],
  problems: string[],
): string[] {
  let list = fromEnv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--service" || arg === "--services") {
      list = args[++i];
      if (list === undefined) {
        problems.push(`${arg} needs a comma list of services from ${known.join(",")}`);
      }
    } else if (arg.startsWith("--service=") || arg.startsWith("--services=")) {
      list = arg.slice(arg.indexOf("=") + 1);
    } else {
      problems.push(`unknown argument ${JSON.stringify(arg)} (expected --service a,b)`);
    }
  }
  if (list === undefined) return [...known];
  const wanted = list.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    problems.push(
      `unknown service ${unknown.map((name) => JSON.stringify(name)).join(", ")}; known: ${
        known.join(", ")
      }`,
    );
  }
  if (wanted.length === 0) problems.push("the service list is empty");
  return known.filter((name) => wanted.includes(name));
}

function parseDatabase(
  url: string | undefined,
  dataDir: string,
  problems: string[],
): DatabaseConfig {
  if (url === undefined) return { kind: "embedded", dir: `${dataDir}/pg` };
  if (!isUrl(url, ["postgres:", "postgresql:"], false)) {
    problems.push("DATABASE_URL must be a postgres:// or postgresql:// URL");
  }
  return { kind: "postgres", url };
}

function parseKafka(brokers: string | undefined, dataDir: string, problems: string[]): KafkaConfig {
  if (brokers === undefined) return { kind: "embedded", dir: `${dataDir}/bus` };
  const list = brokers.split(",").map((broker) => broker.trim()).filter((broker) => broker !== "");
  const bad = list.filter((broker) => !/^[\w.-]+:\d{1,5}$/.test(broker));
  if (list.length === 0 || bad.length > 0) {
    problems.push(
      `KAFKA_BROKERS=${JSON.stringify(brokers)} must be a comma list of host:port`,
    );
  }
  return { kind: "kafka", brokers: list };
}

function parseRedis(
  read: (name: string) => string | undefined,
  dataDir: string,
  problems: string[],
): RedisConfig {
  const redisUrl = read("REDIS_URL");
  const restUrl = read("UPSTASH_REDIS_REST_URL");
  const token = read("UPSTASH_REDIS_REST_TOKEN");
  if (restUrl !== undefined || token !== undefined) {
    if (restUrl === undefined || token === undefined) {
      problems.push("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together");
    } else if (!isUrl(restUrl, ["http:", "https:"])) {
      problems.push("UPSTASH_REDIS_REST_URL must be an http:// or https:// URL");
    }
    if (redisUrl !== undefined) {
      problems.push("set either REDIS_URL or UPSTASH_REDIS_REST_URL/_TOKEN, not both");
    }
    return { kind: "upstash", url: restUrl?.replace(/\/+$/, "") ?? "", token: token ?? "" };
  }
  if (redisUrl === undefined) return { kind: "embedded", dir: `${dataDir}/redis` };
  if (!isUrl(redisUrl, ["redis:"])) {
    problems.push("REDIS_URL must be a redis:// URL");
  }
  return { kind: "redis", url: redisUrl };
}

function parseConsole(
  read: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): ConsoleConfig {
  const raw = read("CONSOLE")?.toLowerCase();
  let enabled = true;
  if (raw !== undefined) {
    if (["off", "false", "0", "no"].includes(raw)) enabled = false;
    else if (!["on", "true", "1", "yes"].includes(raw)) {
      problems.push(`CONSOLE=${JSON.stringify(raw)} must be on or off`);
    }
  }
  const token = read("CONSOLE_TOKEN");
  if (token !== undefined && token.length < 16) {
    problems.push("CONSOLE_TOKEN must be at least 16 characters");
  }
  return {
    enabled,
    hostname: read("CONSOLE_HOST") ?? "127.0.0.1",
    port: integer("CONSOLE_PORT", 8000, 0, 65535),
    ...(token !== undefined ? { token } : {}),
    maxTraces: integer("CONSOLE_MAX_TRACES", 10_000, 1, 1_000_000),
    maxLogs: integer("CONSOLE_MAX_LOGS", 10_000, 1, 1_000_000),
  };
}

/** The attribute limits of the SDK environment specification. */
const ATTRIBUTE_LIMITS = [
  "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
  "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
  "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
  "OTEL_ATTRIBUTE_COUNT_LIMIT",
  "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
  "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
  "OTEL_SPAN_EVENT_COUNT_LIMIT",
  "OTEL_SPAN_LINK_COUNT_LIMIT",
  "OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT",
  "OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT",
] as const;

function parseTelemetry(
  read: (name: string) => string | undefined,
  problems: string[],
  consoleEnabled: boolean,
): TelemetryConfig {
  const disabled = read("OTEL_SDK_DISABLED")?.toLowerCase() === "true";
  const base = (read("OTEL_EXPORTER_OTLP_ENDPOINT") ?? "http://localhost:4318").replace(/\/+$/, "");
  if (!isUrl(base, ["http:", "https:"])) {
    problems.push(
      `OTEL_EXPORTER_OTLP_ENDPOINT=${
        JSON.stringify(redactUrls(base))
      } must be an http:// or https:// URL`,
    );
  }
  const endpoint = (name: string, path: string): string => {
    const url = read(name);
    if (url === undefined) return `${base}${path}`;
    if (!isUrl(url, ["http:", "https:"])) {
      problems.push(
        `${name}=${JSON.stringify(redactUrls(url))} must be an http:// or https:// URL`,
      );
    }
    return url;
  };
  const sampler = read("OTEL_TRACES_SAMPLER");
  oneOf("OTEL_TRACES_SAMPLER", sampler, SAMPLERS, "parentbased_always_on", problems);
  const samplerArg = read("OTEL_TRACES_SAMPLER_ARG");
  if (samplerArg !== undefined && !(Number(samplerArg) >= 0 && Number(samplerArg) <= 1)) {
    problems.push(
      `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(samplerArg)} must be a number in [0, 1]`,
    );
  }
  for (const name of ["OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS"]) {
    checkKeyValues(name, read(name), problems);
  }
  const named = (signal: string) =>
    read("OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined ||
    read(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`) !== undefined;
  const queueSize = (name: string): number => {
    const raw = read(name);
    if (raw === undefined) return 2048;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1_000_000) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer from 1 to 1000000`);
      return 2048;
    }
    return Number(raw);
  };
  // The span SDK reads its limits itself and would ignore a bad value with a diagnostic nobody
  // sees, so every limit is checked here; for log records the model-specific one wins.
  const limits = Object.fromEntries(ATTRIBUTE_LIMITS.map((name) => {
    const raw = read(name);
    const least = name.includes("LENGTH") ? 1 : 0;
    if (raw !== undefined && (!/^\d+$/.test(raw) || Number(raw) < least)) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer of at least ${least}`);
      return [name, undefined];
    }
    return [name, raw === undefined ? undefined : Number(raw)];
  })) as Record<(typeof ATTRIBUTE_LIMITS)[number], number | undefined>;
  return {
    disabled,
    logRecordLimits: {
      attributeCountLimit: limits.OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT ??
        limits.OTEL_ATTRIBUTE_COUNT_LIMIT ?? 128,
      attributeValueLengthLimit: limits.OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT ??
        limits.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT ?? Infinity,
    },
    maxQueueSize: {
      traces: queueSize("OTEL_BSP_MAX_QUEUE_SIZE"),
      logs: queueSize("OTEL_BLRP_MAX_QUEUE_SIZE"),
    },
    exportTraces: !consoleEnabled || named("TRACES"),
    exportLogs: !consoleEnabled || named("LOGS"),
    tracesEndpoint: endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces"),
    logsEndpoint: endpoint("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs"),
  };
}

/** Checks a W3C-baggage-like `key=value,key2=value2` list, which the SDK would half-read. */
function checkKeyValues(name: string, raw: string | undefined, problems: string[]): void {
  const pairs = raw?.split(",") ?? [];
  for (const [index, pair] of pairs.entries()) {
    if (pair.trim() === "") continue;
    const at = pair.indexOf("=");
    const key = at > 0 ? pair.slice(0, at).trim() : "";
    if (key === "") {
      // Never the entry itself: a header entry is often a token that lost its key.
      problems.push(`${name} entry ${index + 1} of ${pairs.length} is not key=value`);
      continue;
    }
    try {
      decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      problems.push(`${name} entry ${JSON.stringify(key)} is not valid percent-encoding`);
    }
  }
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${name}=${JSON.stringify(value)} must be one of ${allowed.join(", ")}`);
  return fallback;
}

function isUrl(value: string, protocols: readonly string[], needsHost = true): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && (!needsHost || url.hostname !== "");
  } catch {
    return false;
  }
}

/** Lines saying which embedded defaults a configuration uses, for the start-up log. */
export function embeddedDefaults(config: Config): string[] {
  const lines: string[] = [];
  if (config.database.kind === "embedded") {
    lines.push(`DATABASE_URL unset: embedded PostgreSQL (PGlite) in ${config.database.dir}`);
  }
  if (config.kafka.kind === "embedded") {
    lines.push(`KAFKA_BROKERS unset: embedded event bus in ${config.kafka.dir}`);
  }
  if (config.redis.kind === "embedded") {
    lines.push(`REDIS_URL unset: embedded Redis-compatible store in ${config.redis.dir}`);
  }
  return lines;
}
