import assert from "node:assert/strict";
import { services } from "../functions/mod.ts";
import {
  type Config,
  ConfigError,
  embeddedDefaults,
  loadConfig as loadConfigFor,
  SAMPLERS,
} from "./config.ts";

/** The configuration of a host running the seed's services (their ports and settings). */
const loadConfig = (env: Record<string, string>, args: string[] = []) =>
  loadConfigFor(env, args, services);

/** Each service's settings, with other services found at `local:<name>`. */
const settingsOf = (config: Config) =>
  Object.fromEntries(
    Object.entries(config.settings).map(([name, resolve]) => [
      name,
      resolve((service) => config.serviceUrls[service] ?? `local:${service}`),
    ]),
  );

/** The problems `loadConfig` reports for `env` and `args`; fails when it does not throw. */
function problemsOf(env: Record<string, string>, args: string[] = []): readonly string[] {
  try {
    loadConfig(env, args);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.ok(error.message.startsWith("invalid configuration:"));
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)} ${JSON.stringify(args)}`);
}

/** Asserts exactly one problem is reported and that it mentions every one of `parts`. */
function assertOneProblem(env: Record<string, string>, ...parts: string[]): void {
  const problems = problemsOf(env);
  assert.equal(problems.length, 1, `expected one problem, got ${JSON.stringify(problems)}`);
  for (const part of parts) {
    assert.ok(problems[0].includes(part), `${JSON.stringify(problems[0])} lacks ${part}`);
  }
}

Deno.test("loadConfig: defaults follow DESIGN.md", () => {
  const config = loadConfig({});
  assert.deepEqual(config.services, ["app4", "app3", "app2", "app1", "executor"]);
  assert.deepEqual(config.ports, {
    app1: 8001,
    app2: 8002,
    app3: 8003,
    app4: 8004,
    executor: 8005,
  });
  assert.deepEqual(settingsOf(config), {
    app1: { app3Url: "local:app3" },
    app2: { app3Url: "local:app3" },
    app3: {},
    app4: { cacheTtlSeconds: 86400 },
    executor: { schedule: "*/5 * * * * *", target: "local:app1" },
  });
  assert.deepEqual(Object.values(config.serviceUrls), [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assert.equal(config.hostname, "127.0.0.1", "loopback unless HOST says otherwise");
  assert.equal(config.logLevel, "info");
  assert.equal(config.dataDir, ".data");
  assert.deepEqual(config.database, { kind: "embedded", dir: ".data/pg" });
  assert.deepEqual(config.kafka, { kind: "embedded", dir: ".data/bus" });
  assert.deepEqual(config.redis, { kind: "embedded", dir: ".data/redis" });
  assert.equal(config.maxBodyBytes, 65536);
  assert.equal(config.kafkaMaxAttempts, 5);
  assert.equal(config.kafkaRetryBackoffMs, 200);
  // The console is on and no endpoint is named: the console is where telemetry goes.
  assert.deepEqual(config.console, {
    enabled: true,
    hostname: "127.0.0.1",
    port: 8000,
    maxTraces: 10_000,
    maxLogs: 10_000,
  });
  assert.deepEqual(config.telemetry, {
    disabled: false,
    exportTraces: false,
    exportLogs: false,
    tracesEndpoint: "http://localhost:4318/v1/traces",
    logsEndpoint: "http://localhost:4318/v1/logs",
    maxQueueSize: { traces: 2048, logs: 2048 },
    logRecordLimits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity },
  });
});

Deno.test("loadConfig: the services start sinks first and the executor last", () => {
  assert.deepEqual(Object.keys(services), ["app4", "app3", "app2", "app1", "executor"]);
});

Deno.test("loadConfig: values are read, trimmed, and blanks mean unset", () => {
  const config = loadConfig({
    APP1_PORT: " 9001 ",
    APP2_PORT: "",
    EXECUTOR_PORT: "0",
    CACHE_TTL_SECONDS: "60",
    EXECUTOR_SCHEDULE: "* * * * * *",
    EXECUTOR_TARGET: "http://example.test:8001/",
    APP3_URL: "https://app3.example.test//",
    DATA_DIR: "/tmp/host-data",
    HOST: "127.0.0.1",
    LOG_LEVEL: "DEBUG",
  });
  assert.equal(config.ports.app1, 9001);
  assert.equal(config.ports.app2, 8002);
  assert.equal(config.ports.executor, 0);
  const settings = settingsOf(config);
  assert.equal(settings.app4.cacheTtlSeconds, 60);
  assert.equal(settings.executor.schedule, "* * * * * *");
  assert.equal(settings.executor.target, "http://example.test:8001");
  assert.equal(settings.app1.app3Url, "https://app3.example.test");
  assert.equal(settings.app2.app3Url, "https://app3.example.test");
  assert.equal(config.serviceUrls.app3, "https://app3.example.test");
  assert.equal(config.hostname, "127.0.0.1");
  assert.equal(config.logLevel, "debug");
  assert.deepEqual(config.database, { kind: "embedded", dir: "/tmp/host-data/pg" });
  assert.deepEqual(config.kafka, { kind: "embedded", dir: "/tmp/host-data/bus" });
  assert.deepEqual(config.redis, { kind: "embedded", dir: "/tmp/host-data/redis" });
});

Deno.test("loadConfig: --service a,b, --service=a, --services and SERVICES select services", () => {
  assert.deepEqual(loadConfig({}, ["--service", "app1,app3"]).services, ["app3", "app1"]);
  assert.deepEqual(loadConfig({}, ["--service=app2"]).services, ["app2"]);
  assert.deepEqual(loadConfig({}, ["--services", " executor , app4 "]).services, [
    "app4",
    "executor",
  ]);
  assert.deepEqual(loadConfig({}, ["--services=app1,app1"]).services, ["app1"]);
  assert.deepEqual(loadConfig({ SERVICES: "app4,app2" }).services, ["app4", "app2"]);
  // The command line wins over the environment.
  assert.deepEqual(loadConfig({ SERVICES: "app4" }, ["--service", "app1"]).services, ["app1"]);
});

Deno.test("loadConfig: service selection problems", () => {
  const unknown = problemsOf({}, ["--service", "app1,app9,web"]);
  assert.equal(unknown.length, 1);
  assert.match(
    unknown[0],
    /unknown service "app9", "web"; known: app4, app3, app2, app1, executor/,
  );

  assert.match(problemsOf({ SERVICES: "nope" })[0], /unknown service "nope"/);
  assert.deepEqual(problemsOf({}, ["--service"]), [
    "--service needs a comma list of services from app4,app3,app2,app1,executor",
  ]);
  assert.deepEqual(problemsOf({}, ["--service="]), ["the service list is empty"]);
  assert.deepEqual(problemsOf({}, ["--service", " , "]), ["the service list is empty"]);
  assert.deepEqual(problemsOf({}, ["app1"]), [
    'unknown argument "app1" (expected --service a,b)',
  ]);
});

Deno.test("loadConfig: ports must be integers from 0 to 65535", () => {
  for (const bad of ["abc", "-1", "65536", "80.5", "8e3", "0x50"]) {
    assertOneProblem(
      { APP3_PORT: bad },
      `APP3_PORT=${JSON.stringify(bad)}`,
      "must be an integer from 0 to 65535",
    );
  }
  assert.equal(loadConfig({ APP4_PORT: "65535" }).ports.app4, 65535);
});

Deno.test("loadConfig: other integer settings are range-checked", () => {
  assertOneProblem({ CACHE_TTL_SECONDS: "0" }, "CACHE_TTL_SECONDS", "from 1 to 315360000");
  assertOneProblem({ MAX_BODY_BYTES: "100" }, "MAX_BODY_BYTES", "from 256");
  assertOneProblem({ KAFKA_MAX_ATTEMPTS: "0" }, "KAFKA_MAX_ATTEMPTS");
  assertOneProblem({ KAFKA_RETRY_BACKOFF_MS: "60001" }, "KAFKA_RETRY_BACKOFF_MS");
  assertOneProblem({ KAFKA_SESSION_TIMEOUT_MS: "999" }, "KAFKA_SESSION_TIMEOUT_MS");
  assertOneProblem({ SHUTDOWN_TIMEOUT_MS: "soon" }, "SHUTDOWN_TIMEOUT_MS");
});

Deno.test("loadConfig: EXECUTOR_SCHEDULE must be a croner pattern", () => {
  for (const bad of ["every 5 seconds", "61 * * * * *", "* * *"]) {
    assertOneProblem(
      { EXECUTOR_SCHEDULE: bad },
      `EXECUTOR_SCHEDULE=${JSON.stringify(bad)} is not a croner pattern`,
    );
  }
  assert.equal(
    settingsOf(loadConfig({ EXECUTOR_SCHEDULE: "0 * * * *" })).executor.schedule,
    "0 * * * *",
  );
});

Deno.test("loadConfig: URLs are checked", () => {
  assertOneProblem({ APP1_URL: "localhost:8001" }, "APP1_URL", "http:// or https://");
  assertOneProblem({ APP3_URL: "ftp://app3" }, 'APP3_URL="ftp://app3"');
  assertOneProblem({ EXECUTOR_TARGET: "http://" }, "EXECUTOR_TARGET");
  assertOneProblem({ DATABASE_URL: "mysql://db/x" }, "DATABASE_URL must be a postgres://");
  assertOneProblem({ REDIS_URL: "rediss://cache:6380" }, "REDIS_URL must be a redis:// URL");
  assertOneProblem({ REDIS_URL: "http://cache" }, "REDIS_URL");
  assertOneProblem(
    { UPSTASH_REDIS_REST_URL: "cache:8079", UPSTASH_REDIS_REST_TOKEN: "t" },
    "UPSTASH_REDIS_REST_URL must be an http:// or https:// URL",
  );
  assertOneProblem(
    { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "collector:4318" },
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="collector:4318"',
  );
  assertOneProblem(
    { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "udp://collector" },
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
  );
});

Deno.test({
  name: "loadConfig: a bad OTEL_EXPORTER_OTLP_ENDPOINT is reported under its own name, once",
  fn: () => {
    const problems = problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" });
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.ok(problems[0].includes('OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318"'), problems[0]);
  },
});

Deno.test("loadConfig: server settings select real backends", () => {
  const config = loadConfig({
    DATABASE_URL: "postgresql://postgres@db:5432/app",
    KAFKA_BROKERS: "kafka-1:9092, kafka-2:9092,",
    REDIS_URL: "redis://:secret@cache:6379/2",
  });
  assert.deepEqual(config.database, { kind: "postgres", url: "postgresql://postgres@db:5432/app" });
  assert.deepEqual(config.kafka, { kind: "kafka", brokers: ["kafka-1:9092", "kafka-2:9092"] });
  assert.deepEqual(config.redis, { kind: "redis", url: "redis://:secret@cache:6379/2" });
  const upstash = loadConfig({
    UPSTASH_REDIS_REST_URL: "https://eu1.upstash.io/",
    UPSTASH_REDIS_REST_TOKEN: "tok",
  });
  assert.deepEqual(upstash.redis, { kind: "upstash", url: "https://eu1.upstash.io", token: "tok" });
});

Deno.test("loadConfig: KAFKA_BROKERS must be a comma list of host:port", () => {
  for (const bad of ["kafka", "kafka:9092,broker", "kafka:port", " , ", "kafka:123456"]) {
    assertOneProblem({ KAFKA_BROKERS: bad }, "KAFKA_BROKERS", "must be a comma list of host:port");
  }
});

Deno.test("loadConfig: Upstash settings come together and exclude REDIS_URL", () => {
  const together = "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together";
  assert.deepEqual(problemsOf({ UPSTASH_REDIS_REST_URL: "https://x.upstash.io" }), [together]);
  assert.deepEqual(problemsOf({ UPSTASH_REDIS_REST_TOKEN: "secret" }), [together]);
  assert.deepEqual(
    problemsOf({
      REDIS_URL: "redis://127.0.0.1:6379",
      UPSTASH_REDIS_REST_URL: "https://x.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "secret",
    }),
    ["set either REDIS_URL or UPSTASH_REDIS_REST_URL/_TOKEN, not both"],
  );
});

Deno.test("loadConfig: OTEL_TRACES_SAMPLER must be a name the SDK knows, as it spells it", () => {
  for (const sampler of SAMPLERS) {
    loadConfig({ OTEL_TRACES_SAMPLER: sampler }); // no ConfigError
  }
  assertOneProblem(
    { OTEL_TRACES_SAMPLER: "ALWAYS_OFF" },
    'OTEL_TRACES_SAMPLER="ALWAYS_OFF" must be one of always_on, always_off, traceidratio',
  );
  assertOneProblem(
    { OTEL_TRACES_SAMPLER: "sometimes" },
    'OTEL_TRACES_SAMPLER="sometimes" must be one of always_on, always_off, traceidratio',
  );
  assertOneProblem({ OTEL_TRACES_SAMPLER: "jaeger_remote" }, "OTEL_TRACES_SAMPLER");
});

Deno.test("loadConfig: OTEL_TRACES_SAMPLER_ARG is a ratio in [0, 1]", () => {
  for (const good of ["0.25", "0", "1", " "]) loadConfig({ OTEL_TRACES_SAMPLER_ARG: good });
  for (const bad of ["1.5", "-0.1", "half", "NaN", "Infinity"]) {
    assertOneProblem(
      { OTEL_TRACES_SAMPLER_ARG: bad },
      `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(bad)} must be a number in [0, 1]`,
    );
  }
});

Deno.test("loadConfig: OTEL_SDK_DISABLED is true only for 'true'", () => {
  assert.equal(loadConfig({ OTEL_SDK_DISABLED: "true" }).telemetry.disabled, true);
  assert.equal(loadConfig({ OTEL_SDK_DISABLED: "TRUE" }).telemetry.disabled, true);
  assert.equal(loadConfig({ OTEL_SDK_DISABLED: "false" }).telemetry.disabled, false);
  assert.equal(loadConfig({ OTEL_SDK_DISABLED: "1" }).telemetry.disabled, false);
});

Deno.test("loadConfig: OTLP endpoints derive from the base, signal endpoints win", () => {
  const derived = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.test:4318//" });
  assert.equal(derived.telemetry.tracesEndpoint, "https://collector.test:4318/v1/traces");
  assert.equal(derived.telemetry.logsEndpoint, "https://collector.test:4318/v1/logs");
  const explicit = loadConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector.test:4318",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo.test:4318/custom/traces",
  });
  assert.equal(explicit.telemetry.tracesEndpoint, "http://tempo.test:4318/custom/traces");
  assert.equal(explicit.telemetry.logsEndpoint, "http://collector.test:4318/v1/logs");
});

Deno.test("loadConfig: well-formed OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS pass", () => {
  loadConfig({
    OTEL_RESOURCE_ATTRIBUTES:
      "deployment.environment.name=dev, team = core ,label=a%20b%2Cc,,query=x=y,empty=",
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-scope=tenant-1",
  });
});

Deno.test("loadConfig: malformed key=value lists are reported entry by entry", () => {
  assert.deepEqual(problemsOf({ OTEL_RESOURCE_ATTRIBUTES: "a=1,standalone,=orphan" }), [
    "OTEL_RESOURCE_ATTRIBUTES entry 2 of 3 is not key=value",
    "OTEL_RESOURCE_ATTRIBUTES entry 3 of 3 is not key=value",
  ]);
  assert.deepEqual(problemsOf({ OTEL_RESOURCE_ATTRIBUTES: "k=%E0%A4%A" }), [
    'OTEL_RESOURCE_ATTRIBUTES entry "k" is not valid percent-encoding',
  ]);
  assertOneProblem({ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS");
});

Deno.test("loadConfig: a malformed secret is never echoed in the problems", () => {
  // A header entry that lost its key is usually the token itself.
  const problems = problemsOf({
    OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=a,Bearer s3cret-token",
    OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://user:s3cret-pass@collector:4318",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "collector?api-key=s3cret-key",
    APP3_URL: "ws://svc:s3cret-app@app3",
  });
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.ok(problems.every((problem) => !problem.includes("s3cret")), problems.join("\n"));
  assert.ok(problems.includes("OTEL_EXPORTER_OTLP_HEADERS entry 2 of 2 is not key=value"));
  assert.ok(problems.some((p) => p.includes('"ftp://***@collector:4318"')), problems.join("\n"));
});

Deno.test("loadConfig: LOG_LEVEL must be a known level", () => {
  assertOneProblem(
    { LOG_LEVEL: "verbose" },
    'LOG_LEVEL="verbose" must be one of debug, info, warn, error',
  );
});

Deno.test("loadConfig: LOG_FORMAT is auto unless json or pretty", () => {
  assert.equal(loadConfig({}).logFormat, "auto");
  assert.equal(loadConfig({ LOG_FORMAT: "Pretty" }).logFormat, "pretty");
  assert.equal(loadConfig({ LOG_FORMAT: "json" }).logFormat, "json");
  assertOneProblem({ LOG_FORMAT: "xml" }, 'LOG_FORMAT="xml" must be one of auto, json, pretty');
});

Deno.test("loadConfig: every problem is reported together", () => {
  const problems = problemsOf({
    APP1_PORT: "x",
    APP2_PORT: "70000",
    EXECUTOR_SCHEDULE: "never",
    EXECUTOR_TARGET: "nowhere",
    DATABASE_URL: "sqlite://file",
    KAFKA_BROKERS: "kafka",
    UPSTASH_REDIS_REST_URL: "https://x.upstash.io",
    REDIS_URL: "redis://127.0.0.1",
    CACHE_TTL_SECONDS: "-5",
    LOG_LEVEL: "loud",
    OTEL_TRACES_SAMPLER: "maybe",
    OTEL_TRACES_SAMPLER_ARG: "2",
    OTEL_RESOURCE_ATTRIBUTES: "oops",
  }, ["--service", "app7"]);
  const expected = [
    "unknown service",
    "APP1_PORT",
    "APP2_PORT",
    "EXECUTOR_SCHEDULE",
    "EXECUTOR_TARGET",
    "DATABASE_URL",
    "KAFKA_BROKERS",
    "must be set together",
    "not both",
    "CACHE_TTL_SECONDS",
    "LOG_LEVEL",
    "OTEL_TRACES_SAMPLER=",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_RESOURCE_ATTRIBUTES",
  ];
  assert.equal(problems.length, expected.length, JSON.stringify(problems, null, 1));
  for (const part of expected) {
    assert.equal(
      problems.filter((problem) => problem.includes(part)).length,
      1,
      `${part} in ${JSON.stringify(problems, null, 1)}`,
    );
  }
});

Deno.test("embeddedDefaults: one line per embedded backend, none for servers", () => {
  const all = embeddedDefaults(loadConfig({ DATA_DIR: "/srv/data" }));
  assert.deepEqual(all, [
    "DATABASE_URL unset: embedded PostgreSQL (PGlite) in /srv/data/pg",
    "KAFKA_BROKERS unset: embedded event bus in /srv/data/bus",
    "REDIS_URL unset: embedded Redis-compatible store in /srv/data/redis",
  ]);
  const servers: Config = loadConfig({
    DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
    KAFKA_BROKERS: "127.0.0.1:9092",
    REDIS_URL: "redis://127.0.0.1:6379",
  });
  assert.deepEqual(embeddedDefaults(servers), []);
  const upstashOnly = embeddedDefaults(loadConfig({
    UPSTASH_REDIS_REST_URL: "https://x.upstash.io",
    UPSTASH_REDIS_REST_TOKEN: "t",
  }));
  assert.equal(upstashOnly.length, 2);
  assert.ok(upstashOnly.every((line) => !line.startsWith("REDIS_URL")));
  assert.deepEqual(
    embeddedDefaults(loadConfig({ KAFKA_BROKERS: "k:1" })).map((line) => line.split(" ")[0]),
    ["DATABASE_URL", "REDIS_URL"],
  );
});

Deno.test("loadConfig: OTLP export goes where the environment says, or to :4318 with no console", () => {
  const off = loadConfig({ CONSOLE: "off" }).telemetry;
  assert.deepEqual([off.exportTraces, off.exportLogs], [true, true]);
  assert.equal(off.tracesEndpoint, "http://localhost:4318/v1/traces");
  const named = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).telemetry;
  assert.deepEqual([named.exportTraces, named.exportLogs], [true, true]);
  const tracesOnly = loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:4318/v1/traces" });
  assert.deepEqual([tracesOnly.telemetry.exportTraces, tracesOnly.telemetry.exportLogs], [
    true,
    false,
  ]);
});

Deno.test("loadConfig: CONSOLE_* settings are read and checked", () => {
  const config = loadConfig({
    CONSOLE_HOST: "0.0.0.0",
    CONSOLE_PORT: "18080",
    CONSOLE_TOKEN: "0123456789abcdef0123",
    CONSOLE_MAX_TRACES: "500",
    CONSOLE_MAX_LOGS: "700",
  });
  assert.deepEqual(config.console, {
    enabled: true,
    hostname: "0.0.0.0",
    port: 18080,
    token: "0123456789abcdef0123",
    maxTraces: 500,
    maxLogs: 700,
  });
  assert.equal(loadConfig({ CONSOLE: "off" }).console.enabled, false);
  const problems = problemsOf({
    CONSOLE: "maybe",
    CONSOLE_PORT: "70000",
    CONSOLE_TOKEN: "short",
    CONSOLE_MAX_TRACES: "0",
  });
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.ok(problemsOf({ CONSOLE_PORT: "8001" })[0].includes("the console and app1"));
  assert.equal(loadConfig({ CONSOLE: "off", CONSOLE_PORT: "8001" }).console.port, 8001);
});

Deno.test("loadConfig: OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BLRP_MAX_QUEUE_SIZE bound the export queues", () => {
  assert.deepEqual(loadConfig({}).telemetry.maxQueueSize, { traces: 2048, logs: 2048 });
  assert.deepEqual(
    loadConfig({ OTEL_BSP_MAX_QUEUE_SIZE: "256", OTEL_BLRP_MAX_QUEUE_SIZE: "64" }).telemetry
      .maxQueueSize,
    { traces: 256, logs: 64 },
  );
  assert.deepEqual(problemsOf({ OTEL_BSP_MAX_QUEUE_SIZE: "0" }), [
    'OTEL_BSP_MAX_QUEUE_SIZE="0" must be an integer from 1 to 1000000',
  ]);
});

Deno.test("loadConfig: log record attribute limits follow the SDK environment specification", () => {
  assert.deepEqual(loadConfig({}).telemetry.logRecordLimits, {
    attributeCountLimit: 128,
    attributeValueLengthLimit: Infinity,
  });
  // The general limits apply when the log record ones are unset; the specific ones win.
  assert.deepEqual(
    loadConfig({ OTEL_ATTRIBUTE_COUNT_LIMIT: "5", OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "40" })
      .telemetry.logRecordLimits,
    { attributeCountLimit: 5, attributeValueLengthLimit: 40 },
  );
  assert.deepEqual(
    loadConfig({
      OTEL_ATTRIBUTE_COUNT_LIMIT: "5",
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: "0",
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "40",
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: "8",
    }).telemetry.logRecordLimits,
    { attributeCountLimit: 0, attributeValueLengthLimit: 8 },
  );
  // The span SDK would ignore these silently; here they stop the start.
  assert.deepEqual(
    problemsOf({
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "many",
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "0",
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: "-1",
    }),
    [
      'OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT="-1" must be an integer of at least 0',
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT="0" must be an integer of at least 1',
      'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="many" must be an integer of at least 0',
    ],
  );
});

Deno.test("loadConfig: EMBEDDED_FSYNC picks when the embedded bus and store sync to disk", () => {
  assert.equal(loadConfig({}).embeddedFsync, "interval");
  assert.equal(loadConfig({ EMBEDDED_FSYNC: "ALWAYS" }).embeddedFsync, "always");
  assert.deepEqual(problemsOf({ EMBEDDED_FSYNC: "sometimes" }), [
    'EMBEDDED_FSYNC="sometimes" must be one of always, interval, never',
  ]);
});
