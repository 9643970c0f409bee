/**
 * The local runtime host: runs the selected services in one process, each on its own port with
 * its own telemetry, wires their functions to HTTP, Kafka and cron triggers, and stops them in
 * an order that loses nothing: cron, consumers (after committing), HTTP (in-flight requests
 * finish), clients, telemetry (flushed).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * import { startHost } from "./host.ts";
 * import { services } from "../functions/mod.ts";
 * const config = loadConfig(Deno.env.toObject(), Deno.args, services);
 * const host = await startHost(config, services);
 * console.log(host.urls.app1);
 * await host.stop();
 * ```
 * @module
 */
import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Hono } from "hono";
import { type CacheClient, type CacheOptions, connectCache } from "./cache/client.ts";
import { declareServices } from "./service_colors.ts";
import { type RestBridge, startRestBridge } from "./cache/bridge.ts";
import { openEmbeddedStore } from "./cache/store.ts";
import { type Config, embeddedDefaults, envPrefix, type Services } from "./config.ts";
import { type CronJob, startCron } from "./cron.ts";
import { lockDataDir } from "./data_dir.ts";
import { startEmbeddedPostgres } from "./db/embedded.ts";
import { migrate } from "./db/migrate.ts";
import { connectPostgres, type PostgresClient } from "./db/postgres.ts";
import type {
  Dependency,
  Flags,
  FunctionConfig,
  FunctionContext,
  Producer,
  ServiceDefinition,
} from "./function.ts";
import { withDeadline } from "./deadline.ts";
import { type HostFlags, startFlags } from "./flags/mod.ts";
import { type Check, Readiness } from "./health.ts";
import { createTracedFetch } from "./http/fetch.ts";
import { createServiceApp } from "./http/server.ts";
import { createLogger } from "./log.ts";
import { errorType } from "./errors.ts";
import { redactUrls } from "./redact.ts";
import type { PageMount } from "./console/app.ts";
import { consoleLogSink, consoleSpanProcessor, sampleRegistries } from "./console/capture.ts";
import { hostActions, type HostedService, hostFunctions } from "./console/host_bridge.ts";
import { flagsPanel } from "./console/pages/flags.tsx";
import { mountPages } from "./console/pages/mod.ts";
import { isLoopback } from "./console/guard.ts";
import { type ConsoleServer, serveConsole } from "./console/server.ts";
import { ConsoleStore } from "./console/store.ts";
import type { Bus, Subscription } from "./messaging/bus.ts";
import { runConsumer } from "./messaging/consumer.ts";
import { EmbeddedBus } from "./messaging/embedded.ts";
import { createProducer } from "./messaging/producer.ts";
import {
  createServiceTelemetry,
  ExportStatus,
  type ServiceTelemetry,
} from "./telemetry/provider.ts";

/** A running host. */
export interface Host {
  /** The URL each running service listens on. */
  readonly urls: Readonly<Record<string, string>>;
  /** The settings each running service's functions see. */
  readonly settings: Readonly<Record<string, FunctionConfig>>;
  /** The message bus, when a running service uses one (tests publish and inspect through it). */
  readonly bus?: Bus;
  /** The console, unless `CONSOLE=off` (or its port was taken). */
  readonly console?: {
    readonly url: string;
    readonly endpoint: string;
    readonly store: ConsoleStore;
  };
  /** The fault flags (`FLAGS_FILE`); the console serves `/api/flags` from `flags.source`. */
  readonly flags: HostFlags;
  /** Stops everything, in order, within `SHUTDOWN_TIMEOUT_MS`. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startHost}. */
export interface HostOptions {
  /** Where log lines go; stdout by default. */
  readonly write?: (line: string, urgent: boolean) => void;
  /** The console's pages; runtime/console/pages with its defaults unless given. */
  readonly consolePages?: PageMount;
}

type Log = ReturnType<typeof createLogger>;

interface RunningService {
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly telemetry: ServiceTelemetry;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  readonly url: string;
  app?: Hono;
  readiness?: Readiness;
  db?: PostgresClient;
}

/** Starts the services `config.services` names, taking their definitions from `definitions`. */
export async function startHost(
  config: Config,
  definitions: Services,
  options: HostOptions = {},
): Promise<Host> {
  const log = createLogger({
    service: "host",
    level: config.logLevel,
    write: options.write,
    format: config.logFormat,
  });
  const stack = new ShutdownStack();
  try {
    return await start(config, definitions, options, log, stack);
  } catch (error) {
    await stack.unwind(log);
    throw error;
  }
}

async function start(
  config: Config,
  definitions: Services,
  options: HostOptions,
  log: Log,
  stack: ShutdownStack,
): Promise<Host> {
  const selected = config.services.map((name) => definitions[name]);
  const needs = (dependency: Dependency) =>
    selected.some((definition) =>
      definition.uses.includes(dependency) ||
      (dependency === "kafka" && (definition.consumers?.length ?? 0) > 0)
    );
  // Definitions come in start order (what others call first); people read callers first.
  declareServices(Object.keys(definitions).reverse());
  await announce(config, definitions, selected, needs, log, stack);
  const flags = await startFlags(config.flagsFile, log);
  stack.push(Phase.Infrastructure, "fault flags", () => flags.close());
  const consoleStore = config.console.enabled
    ? startConsoleStore(config, options, log, stack)
    : undefined;
  // Served before the services start, so its URL is the first thing the log shows; the
  // Functions page's facts and actions fill in as the services come up.
  const triggers: Triggers = { joining: [], subscriptions: [], crons: [], hosted: [] };
  const consoleServer = consoleStore?.serve(hostActions(triggers.hosted), flags);
  consoleStore?.store.setFunctionsSource(hostFunctions(triggers.hosted));
  const telemetry = telemetryDestination(config, consoleServer, consoleStore !== undefined, log);
  // Every port is bound before the slow starts (embedded PostgreSQL), so a clash fails at once.
  const running = listen(
    selected,
    { ...config, telemetry },
    consoleStore?.store,
    options,
    log,
    stack,
  );
  const backends = await startBackends(config, needs, log, stack);
  const urls = Object.fromEntries(running.map((service) => [service.name, service.url]));
  const locate = (service: string) =>
    config.serviceUrls[service] ?? urls[service] ?? `http://localhost:${config.ports[service]}`;
  const settings = Object.fromEntries(
    running.map((service) => [service.name, config.settings[service.name](locate)]),
  );
  // Process-wide metrics go on one port only, so a sum over scrape targets counts them once:
  // the service declaring the lowest port (app1's 8001 when the seed's services all run).
  const processMetrics = [...selected].sort((a, b) => a.port - b.port)[0]?.name;
  for (const service of running) {
    const { name, telemetry } = service;
    await wire(service, settings[name], backends, config, triggers, stack, {
      processMetrics: name === processMetrics,
      flags: flags.forService(name, telemetry.log),
    });
  }
  await Promise.all(triggers.joining);
  stackTriggers(triggers, running, stack);
  if (consoleStore) sampleForConsole(consoleStore.store, running, stack);
  log.info("host ready", { urls, ...(consoleServer ? { console: consoleServer.url } : {}) });

  let stopping: Promise<void> | undefined;
  return {
    urls,
    settings,
    bus: backends.bus,
    flags,
    ...(consoleServer && consoleStore
      ? {
        console: {
          url: consoleServer.url,
          endpoint: consoleServer.endpoint,
          store: consoleStore.store,
        },
      }
      : {}),
    stop() {
      stopping ??= (async () => {
        log.info("stopping host");
        const finished = stack.unwind(log);
        await withDeadline(finished, config.shutdownTimeoutMs).catch(() =>
          log.warn("shutdown took longer than SHUTDOWN_TIMEOUT_MS; stopping anyway", {
            timeout_ms: config.shutdownTimeoutMs,
          })
        );
        log.info("host stopped");
      })();
      return stopping;
    },
  };
}

/** The backing services the selected services use, started or connected. */
interface Backends {
  readonly databaseUrl?: string;
  readonly bus?: Bus;
  readonly cache?: Omit<CacheOptions, "tracer" | "metrics">;
}

/** What wiring the services' triggers collects, for readiness, shutdown and the console. */
interface Triggers {
  readonly joining: Promise<void>[];
  readonly subscriptions: Subscription[];
  readonly crons: CronJob[];
  readonly hosted: HostedService[];
}

/** Says what starts and which embedded defaults it uses; takes the data folder if it needs it. */
async function announce(
  config: Config,
  definitions: Services,
  selected: readonly ServiceDefinition[],
  needs: (dependency: Dependency) => boolean,
  log: Log,
  stack: ShutdownStack,
): Promise<void> {
  const embedded = embeddedDefaults(config).filter((line) =>
    (line.startsWith("DATABASE_URL") && needs("postgres")) ||
    (line.startsWith("KAFKA_BROKERS") && needs("kafka")) ||
    (line.startsWith("REDIS_URL") && needs("redis"))
  );
  log.info("starting host", { services: config.services });
  reportUnconsumedTopics(config, definitions, selected, log);
  for (const line of embedded) log.info(line);
  if (embedded.length > 0) {
    stack.push(Phase.DataFolder, "data folder", await lockDataDir(config.dataDir));
  }
}

/**
 * Where spans and logs go, said once: over OTLP as configured, and to the console, but not to
 * this host's own console over OTLP (every span and record would show twice).
 */
function telemetryDestination(
  config: Config,
  consoleServer: ConsoleServer | undefined,
  console: boolean,
  log: Log,
): Config["telemetry"] {
  const own = consoleServer ? new URL(consoleServer.endpoint).port : undefined;
  const isOwn = (url: string) => {
    const target = new URL(url);
    return own !== undefined && target.port === own && isLoopback(target.hostname);
  };
  const telemetry = {
    ...config.telemetry,
    exportTraces: config.telemetry.exportTraces && !isOwn(config.telemetry.tracesEndpoint),
    exportLogs: config.telemetry.exportLogs && !isOwn(config.telemetry.logsEndpoint),
  };
  if (
    telemetry.exportTraces !== config.telemetry.exportTraces ||
    telemetry.exportLogs !== config.telemetry.exportLogs
  ) {
    log.warn("OTEL_EXPORTER_OTLP_ENDPOINT is this host's own console; not exporting there too");
  }
  const exported = {
    ...(telemetry.exportTraces ? { traces: redactUrls(telemetry.tracesEndpoint) } : {}),
    ...(telemetry.exportLogs ? { logs: redactUrls(telemetry.logsEndpoint) } : {}),
  };
  log.info(
    telemetry.disabled
      ? "telemetry disabled (OTEL_SDK_DISABLED=true): no spans or OTLP logs are recorded"
      : Object.keys(exported).length > 0
      ? `telemetry goes over OTLP/HTTP${console ? " and to the console" : ""}`
      : "telemetry goes to the console (set OTEL_EXPORTER_OTLP_ENDPOINT to export over OTLP too)",
    exported,
  );
  return telemetry;
}

/** Gives each service its telemetry and binds its port; requests get a 503 until it is wired. */
function listen(
  selected: readonly ServiceDefinition[],
  config: Config,
  store: ConsoleStore | undefined,
  options: HostOptions,
  log: Log,
  stack: ShutdownStack,
): RunningService[] {
  // Export outcomes arrive inside whatever span was active; the report belongs to no trace.
  const exportStatus = new ExportStatus((level, message, fields) =>
    context.with(ROOT_CONTEXT, () => log[level](message, fields))
  );
  return selected.map((definition) => {
    const capture = store && {
      spanProcessor: consoleSpanProcessor(store),
      logSink: consoleLogSink(store),
    };
    const telemetry = createServiceTelemetry(
      definition.name,
      config,
      exportStatus,
      options.write,
      capture,
    );
    stack.push(Phase.Telemetry, `${definition.name} telemetry`, () => telemetry.shutdown());
    const service = serve(definition, telemetry, config);
    stack.push(Phase.Servers, `${definition.name} HTTP server`, () => service.server.shutdown());
    return service;
  });
}

/** PostgreSQL, the message bus and the cache endpoint, each only when a service needs it. */
async function startBackends(
  config: Config,
  needs: (dependency: Dependency) => boolean,
  log: Log,
  stack: ShutdownStack,
): Promise<Backends> {
  return {
    databaseUrl: needs("postgres") ? await startDatabase(config, log, stack) : undefined,
    bus: needs("kafka") ? await startBus(config, log, stack) : undefined,
    cache: needs("redis") ? await startCacheEndpoint(config, stack) : undefined,
  };
}

/**
 * Connects one service's functions: its clients and context, its readiness checks and HTTP app,
 * its consumers (joining in the background) and cron jobs.
 */
async function wire(
  service: RunningService,
  settings: FunctionConfig,
  backends: Backends,
  config: Config,
  triggers: Triggers,
  stack: ShutdownStack,
  extra: { readonly processMetrics: boolean; readonly flags: Flags },
): Promise<void> {
  const { definition, telemetry } = service;
  const { tracer, metrics } = telemetry;
  const { bus } = backends;
  const db = backends.databaseUrl === undefined || !definition.uses.includes("postgres")
    ? undefined
    : connectPostgres(backends.databaseUrl, {
      tracer,
      metrics,
      max: config.database.kind === "embedded" ? 1 : 10,
      prepare: definition.migrations
        ? async (client) => {
          const applied = await migrate(client.sql, definition.name, definition.migrations!);
          if (applied.length > 0) telemetry.log.info("migrations applied", { versions: applied });
        }
        : undefined,
    });
  if (db) stack.push(Phase.Clients, `${definition.name} database pool`, () => db.close());
  const cache = backends.cache && definition.uses.includes("redis")
    ? connectCache({ ...backends.cache, tracer, metrics })
    : undefined;
  const producer = bus ? createProducer(bus, tracer, metrics) : undefined;
  const ctx = createContext(definition, telemetry, settings, {
    db,
    cache,
    producer,
    flags: extra.flags,
  });

  const checks: Record<string, Check> = {};
  if (db) checks.postgres = () => db.ping();
  if (cache) checks.redis = () => cache.ping();
  const consumers: Subscription[] = [];
  if (bus && (definition.uses.includes("kafka") || definition.consumers?.length)) {
    const expected = definition.consumers?.length ?? 0;
    checks.kafka = async () => {
      await bus.ping();
      if (consumers.length < expected || !consumers.every((consumer) => consumer.ready())) {
        throw new Error("a consumer has not joined its group");
      }
    };
  }
  service.db = db;
  const readiness = service.readiness = new Readiness(checks, metrics);
  const functions = definition.http?.(ctx);
  service.app = createServiceApp({
    telemetry,
    readiness,
    functions,
    maxBodyBytes: config.maxBodyBytes,
    processMetrics: extra.processMetrics,
  });
  const serviceCrons: HostedService["crons"][number][] = [];
  triggers.hosted.push({
    service: definition.name,
    url: service.url,
    http: (functions?.routes ?? [])
      .filter((route) => route.method !== "ALL")
      .map(({ method, path }) => ({ method, path })),
    consumers: (definition.consumers ?? []).map(({ name, topic, group }) => ({
      name,
      topic,
      group,
    })),
    crons: serviceCrons,
    readiness: () => readiness.check(),
  });

  if (db) {
    await db.prepare().catch((error) =>
      telemetry.log.warn("migrations not applied yet; retrying on first use", { error })
    );
  }
  for (const fn of definition.consumers ?? []) {
    triggers.joining.push(
      runConsumer({
        fn,
        ctx,
        bus: bus!,
        telemetry,
        producer: producer!,
        maxAttempts: config.kafkaMaxAttempts,
        backoffMs: config.kafkaRetryBackoffMs,
        concurrency: config.kafkaConsumerConcurrency,
      }).then((subscription) => {
        consumers.push(subscription);
        triggers.subscriptions.push(subscription);
      }),
    );
  }
  for (const fn of definition.crons ?? []) {
    const schedule = fn.schedule(settings);
    const job = startCron({ fn, ctx, telemetry, schedule });
    triggers.crons.push(job);
    serviceCrons.push({ name: fn.name, schedule, nextRun: job.nextRun, runNow: job.runNow });
  }
}

/** Stops, in their phases: readiness first, then cron, then consumers (after committing). */
function stackTriggers(
  triggers: Triggers,
  running: readonly RunningService[],
  stack: ShutdownStack,
): void {
  stack.push(
    Phase.Consumers,
    "consumers",
    () => Promise.all(triggers.subscriptions.map((s) => s.stop())).then(() => {}),
  );
  stack.push(
    Phase.Cron,
    "cron",
    () => Promise.all(triggers.crons.map((job) => job.stop())).then(() => {}),
  );
  stack.push(Phase.Readiness, "readiness", () => {
    for (const service of running) service.readiness?.stop();
    return Promise.resolve();
  });
}

/** Samples each service's metrics into the console. */
function sampleForConsole(
  store: ConsoleStore,
  running: readonly RunningService[],
  stack: ShutdownStack,
): void {
  const sampler = sampleRegistries(
    store,
    running.map((service) => ({
      service: service.name,
      registry: service.telemetry.metrics.registry,
    })),
  );
  stack.push(Phase.Telemetry, "console metrics sampler", () => sampler.stop());
}

/**
 * The console's store, and a way to serve it once the services run. A taken console port is a
 * warning, not a failed start: a second host on the same machine still runs its functions.
 */
function startConsoleStore(
  config: Config,
  options: HostOptions,
  log: Log,
  stack: ShutdownStack,
) {
  const store = new ConsoleStore({
    maxTraces: config.console.maxTraces,
    maxLogs: config.console.maxLogs,
  });
  stack.push(Phase.Telemetry, "console buffers", () => Promise.resolve(store.close()));
  return {
    store,
    serve(actions: ReturnType<typeof hostActions>, flags: HostFlags): ConsoleServer | undefined {
      try {
        const server = serveConsole({
          store,
          hostname: config.console.hostname,
          port: config.console.port,
          token: config.console.token,
          actions,
          pages: options.consolePages ?? mountPages({ flagsPanel: flagsPanel(flags.source) }),
          flags: flags.source,
        });
        stack.push(Phase.DataFolder, "console", () => server.stop());
        log.info(`console at ${server.url}`, {
          otlp: server.endpoint,
          ...(server.token ? { token: server.token } : {}),
        });
        return server;
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        log.warn(
          `console not started: ${config.console.hostname}:${config.console.port} is taken ` +
            "(another host's console?); set CONSOLE_PORT, or CONSOLE=off, or send this host's " +
            "telemetry there with OTEL_EXPORTER_OTLP_ENDPOINT",
          { port: config.console.port },
        );
        return undefined;
      }
    },
  };
}

/** Binds the service's port at once; requests arriving before its app is built get a 503. */
function serve(
  definition: ServiceDefinition,
  telemetry: ServiceTelemetry,
  config: Config,
): RunningService {
  let service: RunningService | undefined = undefined;
  const port = config.ports[definition.name];
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.hostname,
      port,
      onListen: () => {},
      onError: (error) => {
        telemetry.log.error("request failed outside the app", { error: error as Error });
        return Response.json({ error: "internal error" }, { status: 500 });
      },
    }, (request, info) =>
      // The connection info reaches the tracing middleware as Hono's env (client address).
      service?.app?.fetch(request, info) ??
        Response.json({ error: `${definition.name} is starting` }, {
          status: 503,
          headers: { "Retry-After": "1" },
        }));
  } catch (error) {
    throw listenError(error, definition.name, config.hostname, port);
  }
  const host = ["0.0.0.0", "::", ""].includes(config.hostname)
    ? "127.0.0.1"
    : config.hostname.includes(":")
    ? `[${config.hostname}]`
    : config.hostname;
  service = {
    name: definition.name,
    definition,
    telemetry,
    server,
    url: `http://${host}:${server.addr.port}`,
  };
  return service;
}

/**
 * Says once, at start, which topics a service here publishes to that no service here consumes
 * (e.g. `--service app1,app3`): fine against a broker the consumers share from other processes,
 * a dead end with the embedded bus, which serves this process only.
 */
function reportUnconsumedTopics(
  config: Config,
  definitions: Services,
  selected: readonly ServiceDefinition[],
  log: Log,
): void {
  const consumed = new Set(selected.flatMap((d) => d.consumers?.map((fn) => fn.topic) ?? []));
  for (const definition of selected) {
    for (const topic of definition.publishes ?? []) {
      if (consumed.has(topic)) continue;
      const consumers = Object.values(definitions)
        .filter((other) => other.consumers?.some((fn) => fn.topic === topic))
        .map((other) => other.name);
      const who = consumers.length > 0 ? consumers.join(", ") : "no known service";
      if (config.kafka.kind === "embedded") {
        log.warn(
          `${definition.name} publishes to ${topic}, which no service in this process consumes ` +
            `(${who} does); the embedded bus serves this process only, so those messages wait in ` +
            `${config.kafka.dir} until a host running ${who} starts on this DATA_DIR. Run them ` +
            `together, or point every process at the same KAFKA_BROKERS`,
          { topic, publisher: definition.name, consumers },
        );
      } else {
        log.info(
          `${definition.name} publishes to ${topic}, which no service in this process consumes; ` +
            `${who} must run in another process against the same KAFKA_BROKERS`,
          { topic, publisher: definition.name, consumers },
        );
      }
    }
  }
}

/** Says which port of which service could not be bound, and what to change. */
function listenError(error: unknown, service: string, hostname: string, port: number): Error {
  const variable = `${envPrefix(service)}_PORT`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new Error(
      `${service} cannot listen on ${hostname}:${port}: the address is already in use (another ` +
        `host?); stop what listens there or set ${variable} (0 picks a free port)`,
      { cause: error },
    );
  }
  if (
    error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.PermissionDenied
  ) {
    return new Error(
      `${service} cannot listen on ${hostname}:${port} (${
        errorType(error)
      }); check HOST and ${variable}`,
      { cause: error },
    );
  }
  return error as Error;
}

/** The context of a service's functions: only the clients its `uses` declares. */
function createContext(
  definition: ServiceDefinition,
  telemetry: ServiceTelemetry,
  config: FunctionConfig,
  clients: { db?: PostgresClient; cache?: CacheClient; producer?: Producer; flags: Flags },
): FunctionContext {
  const missing = (dependency: Dependency) => () => {
    throw new Error(`${definition.name} does not declare "${dependency}" in uses`);
  };
  const ctx = {
    service: definition.name,
    config,
    log: telemetry.log,
    fetch: createTracedFetch(telemetry.tracer, telemetry.metrics),
    flags: clients.flags,
  };
  const declared = (dependency: Dependency) => definition.uses.includes(dependency);
  return Object.defineProperties(ctx, {
    db: { get: declared("postgres") ? () => clients.db : missing("postgres") },
    cache: { get: declared("redis") ? () => clients.cache : missing("redis") },
    producer: { get: declared("kafka") ? () => clients.producer : missing("kafka") },
  }) as FunctionContext;
}

async function startDatabase(
  config: Config,
  log: Log,
  stack: ShutdownStack,
): Promise<string> {
  if (config.database.kind === "postgres") return config.database.url;
  const server = await startEmbeddedPostgres(config.database.dir);
  stack.push(Phase.Infrastructure, "embedded PostgreSQL", () => server.stop());
  if (server.origin === "initdb") {
    log.warn("no prepared cluster for this PGlite version: initdb made the data folder (slow)", {
      fix: "deno task pgdata",
    });
  }
  return server.url;
}

async function startBus(
  config: Config,
  log: Log,
  stack: ShutdownStack,
): Promise<Bus> {
  // kafkajs (and @redis/client below) load only when configured: a fifth of the host's module
  // loading, which the embedded defaults do not need.
  const bus = config.kafka.kind === "kafka"
    ? (await import("./messaging/kafka.ts")).connectKafka(config.kafka.brokers, {
      log,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      batch: config.kafkaBatch,
    })
    : await EmbeddedBus.open(config.kafka.dir, { fsync: config.embeddedFsync, log });
  stack.push(Phase.Infrastructure, "message bus", () => bus.close());
  return bus;
}

async function startCacheEndpoint(config: Config, stack: ShutdownStack) {
  const redis = config.redis;
  if (redis.kind === "upstash") {
    const url = new URL(redis.url);
    // Behind a REST endpoint the host sees the endpoint, not Redis: Upstash serves both on one
    // host name, so that is Redis's address; the endpoint's port is not Redis's, so none.
    return { url: redis.url, token: redis.token, server: { address: url.hostname } };
  }
  let bridge: RestBridge;
  let server: { address: string; port: number } | undefined;
  const token = crypto.randomUUID();
  let namespace: string | undefined;
  if (redis.kind === "redis") {
    const url = new URL(redis.url);
    server = { address: url.hostname || "127.0.0.1", port: Number(url.port) || 6379 };
    namespace = /^\/(\d+)$/.exec(url.pathname)?.[1]; // redis://host:port/2 works in database 2
    const { redisBackend } = await import("./cache/redis.ts");
    bridge = await startRestBridge(redisBackend(redis.url), { token });
  } else {
    server = undefined; // in-process: no server to name
    bridge = await startRestBridge(
      await openEmbeddedStore(redis.dir, undefined, config.embeddedFsync),
      { token },
    );
  }
  stack.push(Phase.Infrastructure, "Redis REST bridge", () => bridge.stop());
  return { url: bridge.url, token, server, namespace };
}

/**
 * The order of shutdown, last started first: readiness flips, triggers stop (cron, then
 * consumers after committing), servers finish in-flight requests, clients and the backing
 * services close, and telemetry flushes what all of them recorded.
 */
enum Phase {
  DataFolder,
  Telemetry,
  Infrastructure,
  Clients,
  Servers,
  Consumers,
  Cron,
  Readiness,
}

/** Things to stop: phase by phase, highest first; the steps of one phase run together. */
class ShutdownStack {
  readonly #steps: Array<{ phase: Phase; name: string; stop: () => Promise<void> }> = [];

  push(phase: Phase, name: string, stop: () => Promise<void>): void {
    this.#steps.push({ phase, name, stop });
  }

  async unwind(log: Log): Promise<void> {
    const steps = this.#steps.splice(0);
    const phases = [...new Set(steps.map((step) => step.phase))].sort((a, b) => b - a);
    for (const phase of phases) {
      await Promise.all(
        steps.filter((step) => step.phase === phase).map(async (step) => {
          const started = performance.now();
          try {
            await step.stop();
            log.debug("stopped", { step: step.name, ms: Math.round(performance.now() - started) });
          } catch (error) {
            log.warn("shutdown step failed", { step: step.name, error: error as Error });
          }
        }),
      );
    }
  }
}
