/**
 * Runs the real host inside a test: ephemeral ports, a fresh data folder, an in-test OTLP
 * receiver, logs captured. Backends come from the environment: the embedded defaults always,
 * and real servers when `DATABASE_URL`, `REDIS_URL` or `KAFKA_BROKERS` name them (CI does).
 *
 * @example
 * ```ts
 * import { startTestHost, testEachBackend } from "./_harness.ts";
 * testEachBackend("flow", async (suite) => {
 *   const test = await startTestHost({ env: suite.env });
 *   await test.stop();
 * });
 * ```
 * @module
 */
import { type ServiceName, services } from "../functions/mod.ts";
import { loadConfig } from "../runtime/config.ts";
import { type Host, startHost } from "../runtime/host.ts";
import { testWhen } from "../runtime/_test_needs.ts";
import { OtlpReceiver } from "../testing/otlp_receiver.ts";

/** A set of backends to run integration tests against. */
export interface BackendSuite {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /** Why the suite cannot run here, if it cannot. */
  readonly ignore?: string;
  readonly real: { postgres: boolean; redis: boolean; kafka: boolean };
}

const REAL_SERVER_VARIABLES = ["DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS"] as const;

/** The embedded suite, and the real-servers suite when the environment names servers. */
export function backendSuites(): BackendSuite[] {
  const env: Record<string, string> = {};
  for (const name of REAL_SERVER_VARIABLES) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  const real = {
    postgres: "DATABASE_URL" in env,
    redis: "REDIS_URL" in env,
    kafka: "KAFKA_BROKERS" in env,
  };
  const named = Object.entries(real).filter(([, on]) => on).map(([name]) => name);
  const suites: BackendSuite[] = [{
    name: "embedded",
    env: {},
    real: { postgres: false, redis: false, kafka: false },
  }];
  suites.push({
    name: named.length > 0 ? `real ${named.join(", ")}` : "real servers",
    env,
    real,
    ignore: named.length > 0
      ? undefined
      : `set ${
        REAL_SERVER_VARIABLES.join(", ")
      } to run the integration tests against real servers (.ci/run does)`,
  });
  return suites;
}

/** Registers `fn` once per backend suite; a suite that cannot run says why in its name. */
export function testEachBackend(
  name: string,
  fn: (suite: BackendSuite) => Promise<void>,
): void {
  for (const suite of backendSuites()) {
    testWhen(suite.ignore, {
      name: `${name} [${suite.name}]`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => fn(suite),
    });
  }
}

/** A host running inside a test. */
export interface TestHost {
  readonly host: Host;
  readonly receiver: OtlpReceiver;
  readonly logs: string[];
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string>>;
  /** The URL of a running service. */
  url(service: ServiceName): string;
  stop(): Promise<void>;
}

/** Options of {@linkcode startTestHost}. */
export interface TestHostOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly services?: readonly ServiceName[];
  readonly receiver?: OtlpReceiver;
  readonly dataDir?: string;
}

/** Starts the host with test settings on top of `options.env`. */
export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const receiver = options.receiver ?? await OtlpReceiver.start();
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "otel-functions-test-" });
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    APP1_PORT: "0",
    APP2_PORT: "0",
    APP3_PORT: "0",
    APP4_PORT: "0",
    EXECUTOR_PORT: "0",
    CONSOLE_PORT: "0",
    DATA_DIR: dataDir,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    KAFKA_RETRY_BACKOFF_MS: "50",
    EXECUTOR_SCHEDULE: "* * * * * *",
    SHUTDOWN_TIMEOUT_MS: "15000",
    ...options.env,
  };
  const args = options.services ? ["--service", options.services.join(",")] : [];
  const logs: string[] = [];
  const host = await startHost(loadConfig(env, args, services), services, {
    write: (line) => logs.push(line),
  });
  return {
    host,
    receiver,
    logs,
    dataDir,
    env,
    url(service) {
      const url = host.urls[service];
      if (url === undefined) throw new Error(`${service} is not running in this test host`);
      return url;
    },
    async stop() {
      await host.stop();
      if (!options.receiver) await receiver.stop();
    },
  };
}

/** POSTs JSON and returns the status and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** GETs and returns the status and parsed JSON body. */
export async function getJson(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}
