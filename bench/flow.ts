/**
 * The seed's flow, timed end to end: the full host (app1-app4, `runtime/main.ts`) in its own
 * process; this process plays the executor at a steady rate, POSTing app1 `/Message` and
 * `/Message/Post-Message` each tick, and measures from the call to the moment the row is visible
 * in PostgreSQL and the key in Redis (polled directly every couple of milliseconds). Against the
 * embedded defaults it polls app3 and app4 `GET /Message/:id` instead.
 *
 * @example
 * ```ts
 * import { runFlowBench } from "./flow.ts";
 * // const result = await runFlowBench({ backends: { ... }, rate: 20, seconds: 20, ... });
 * ```
 * @module
 */
import { Kafka, logLevel, Partitioners } from "kafkajs";
import postgres from "postgres";
import { createClient } from "@redis/client";
import { clientSettings, consumerSettings, RUN_SETTINGS } from "./kafka_settings.ts";
import { type Sink, startSink } from "./otlp_sink.ts";
import { type Child, type Cpus, freePort, spawnChild, waitForHttp } from "./process.ts";
import { percentile } from "./stats.ts";

/** Where the flow's data goes: real servers, or the embedded defaults when undefined. */
export interface FlowBackends {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: string;
}

/** Settings of {@linkcode runFlowBench}. */
export interface FlowBenchOptions {
  readonly backends?: FlowBackends;
  /** Executor ticks per second (each tick sends both calls). */
  readonly rate: number;
  readonly seconds: number;
  readonly cpus: Cpus;
  readonly workDir: string;
  readonly progress: (line: string) => void;
}

/** Latencies of one path. */
export interface PathLatency {
  readonly samples: number;
  readonly missing: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The flow benchmark's results. */
export interface FlowBenchResult {
  readonly embedded: boolean;
  readonly rate: number;
  readonly seconds: number;
  /** executor call → row in PostgreSQL (app1 → app3 → INSERT). */
  readonly postgres: PathLatency;
  /** executor call → key in Redis (app1 → Kafka → app2 → app3 → Kafka → app4 → SET). */
  readonly redis: PathLatency;
  /** Calls answered with a non-2xx status. */
  readonly failedCalls: number;
  readonly spans: number;
}

const SERVICES = ["app1", "app2", "app3", "app4"] as const;

/** Finds which of the pending ids have arrived. */
interface Probe {
  postgres(ids: string[]): Promise<Set<string>>;
  redis(ids: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

async function directProbe(backends: FlowBackends): Promise<Probe> {
  const sql = postgres(backends.databaseUrl, { max: 1, onnotice: () => {} });
  const redis = await createClient({ url: backends.redisUrl }).connect();
  return {
    async postgres(ids) {
      const rows = await sql<{ id: string }[]>`
        select id::text as id from messages where id = any(${ids}::uuid[])`;
      return new Set(rows.map((row) => row.id));
    },
    async redis(ids) {
      const replies = await Promise.all(ids.map((id) => redis.exists(`message:${id}`)));
      return new Set(ids.filter((_, index) => replies[index] === 1));
    },
    async close() {
      await sql.end({ timeout: 1 });
      redis.destroy();
    },
  };
}

function httpProbe(urls: Record<string, string>): Probe {
  const found = async (base: string, ids: string[]) => {
    const hits = await Promise.all(ids.map(async (id) => {
      const response = await fetch(`${base}/Message/${id}`);
      await response.body?.cancel();
      return response.status === 200 ? id : undefined;
    }));
    return new Set(hits.filter((id) => id !== undefined));
  };
  return {
    postgres: (ids) => found(urls.app3, ids),
    redis: (ids) => found(urls.app4, ids),
    close: () => Promise.resolve(),
  };
}

/** Starts the full host (app1-app4) in its own process on the server CPU, telemetry to `sink`. */
export async function startFlowHost(
  options: FlowBenchOptions,
  sink: Sink,
  denoFlags: readonly string[] = [],
): Promise<{ child: Child; urls: Record<string, string> }> {
  const ports = Object.fromEntries(SERVICES.map((name) => [name, freePort()]));
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    SERVICES: SERVICES.join(","),
    DATA_DIR: await Deno.makeTempDir({ dir: options.workDir, prefix: "flow-data-" }),
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    CACHE_TTL_SECONDS: "3600",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    ...Object.fromEntries(
      SERVICES.map((name) => [`${name.toUpperCase()}_PORT`, String(ports[name])]),
    ),
  };
  if (options.backends) {
    env.DATABASE_URL = options.backends.databaseUrl;
    env.REDIS_URL = options.backends.redisUrl;
    env.KAFKA_BROKERS = options.backends.kafkaBrokers;
  }
  const main = new URL("../runtime/main.ts", import.meta.url).pathname;
  const child = spawnChild([Deno.execPath(), "run", "-A", ...denoFlags, main], {
    logFile: `${options.workDir}/flow-${options.backends ? "real" : "embedded"}.log`,
    cpus: options.cpus,
    cpu: options.cpus.server,
    env,
  });
  const urls = Object.fromEntries(
    SERVICES.map((name) => [name, `http://127.0.0.1:${ports[name]}`]),
  );
  for (const name of SERVICES) {
    await waitForHttp(`${urls[name]}/readyz`, { child, timeoutMs: 90_000, intervalMs: 100 });
  }
  return { child, urls };
}

async function post(url: string, body: unknown): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Sends ticks and times their arrival; resolves once all arrived or timed out. */
class Tracker {
  readonly pending = { postgres: new Map<string, number>(), redis: new Map<string, number>() };
  readonly latencies = { postgres: [] as number[], redis: [] as number[] };
  missing = { postgres: 0, redis: 0 };
  failedCalls = 0;
  /** Every id sent down the Kafka path, to delete its key afterwards. */
  readonly redisIds: string[] = [];

  constructor(private readonly urls: Record<string, string>, private readonly tag: string) {}

  tick(): void {
    const started = performance.now();
    const toPostgres = crypto.randomUUID();
    const toRedis = crypto.randomUUID();
    this.pending.postgres.set(toPostgres, started);
    this.pending.redis.set(toRedis, started);
    this.redisIds.push(toRedis);
    const content = `bench flow ${this.tag}`;
    for (
      const [url, id] of [
        [`${this.urls.app1}/Message`, toPostgres],
        [`${this.urls.app1}/Message/Post-Message`, toRedis],
      ]
    ) {
      post(url, { id, content }).then((ok) => {
        if (!ok) this.failedCalls++;
      });
    }
  }

  async poll(probe: Probe, timeoutMs: number): Promise<void> {
    for (const path of ["postgres", "redis"] as const) {
      const pending = this.pending[path];
      if (pending.size === 0) continue;
      const ids = [...pending.keys()];
      const arrived = await probe[path](ids);
      const now = performance.now();
      for (const id of ids) {
        const started = pending.get(id)!;
        if (arrived.has(id)) {
          this.latencies[path].push(now - started);
          pending.delete(id);
        } else if (now - started > timeoutMs) {
          this.missing[path]++;
          pending.delete(id);
        }
      }
    }
  }

  get idle(): boolean {
    return this.pending.postgres.size === 0 && this.pending.redis.size === 0;
  }
}

function summarize(latencies: number[], missing: number): PathLatency {
  return {
    samples: latencies.length,
    missing,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: Math.max(...latencies),
  };
}

/** Runs the flow benchmark. */
export async function runFlowBench(options: FlowBenchOptions): Promise<FlowBenchResult> {
  const which = options.backends ? "real servers" : "embedded defaults";
  const sink = await startSink({
    logFile: `${options.workDir}/sink-flow.log`,
    cpus: options.cpus,
  });
  const tag = crypto.randomUUID();
  const redisIds: string[] = [];
  let child: Child | undefined;
  try {
    const host = await startFlowHost(options, sink);
    child = host.child;
    const probe = options.backends ? await directProbe(options.backends) : httpProbe(host.urls);
    const pollInterval = options.backends ? 2 : 10;
    const drain = async (tracker: Tracker, whileSending: () => boolean, timeoutMs: number) => {
      while (whileSending() || !tracker.idle) {
        await tracker.poll(probe, timeoutMs);
        await new Promise((resolve) => setTimeout(resolve, pollInterval));
      }
    };
    try {
      // Warm-up: consumers joined, connections open, code compiled.
      const warm = new Tracker(host.urls, tag);
      for (let i = 0; i < 10; i++) warm.tick();
      redisIds.push(...warm.redisIds);
      await drain(warm, () => false, 60_000);
      options.progress(
        `flow (${which}): warm-up done, ${warm.latencies.redis.length}/10 through Kafka`,
      );
      await sink.reset();

      const tracker = new Tracker(host.urls, tag);
      const ticks = Math.round(options.rate * options.seconds);
      let sent = 0;
      const interval = 1000 / options.rate;
      const start = performance.now();
      const sender = (async () => {
        while (sent < ticks) {
          const due = start + sent * interval;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          tracker.tick();
          sent++;
        }
      })();
      await drain(tracker, () => sent < ticks, 30_000);
      await sender;
      await drain(tracker, () => false, 30_000);
      redisIds.push(...tracker.redisIds);
      const result: FlowBenchResult = {
        embedded: !options.backends,
        rate: options.rate,
        seconds: options.seconds,
        postgres: summarize(tracker.latencies.postgres, tracker.missing.postgres),
        redis: summarize(tracker.latencies.redis, tracker.missing.redis),
        failedCalls: tracker.failedCalls,
        spans: 0,
      };
      await child.stop();
      const spans = (await sink.stats()).spans;
      options.progress(
        `flow (${which}): PostgreSQL p50 ${result.postgres.p50Ms.toFixed(1)} ms p99 ${
          result.postgres.p99Ms.toFixed(1)
        } ms; Redis p50 ${result.redis.p50Ms.toFixed(1)} ms p99 ${
          result.redis.p99Ms.toFixed(1)
        } ms; ${spans} spans`,
      );
      return { ...result, spans };
    } finally {
      await probe.close();
      if (options.backends) await cleanUp(options.backends, tag, redisIds);
    }
  } finally {
    await child?.stop();
    await sink.stop();
  }
}

/** Removes the benchmark's rows and keys. */
async function cleanUp(backends: FlowBackends, tag: string, redisIds: string[]): Promise<void> {
  const sql = postgres(backends.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`delete from messages where content = ${`bench flow ${tag}`}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
  const redis = await createClient({ url: backends.redisUrl }).connect();
  try {
    for (let i = 0; i < redisIds.length; i += 500) {
      await redis.del(redisIds.slice(i, i + 500).map((id) => `message:${id}`));
    }
  } finally {
    redis.destroy();
  }
}

/**
 * The floor of one Kafka hop on this broker: a bare kafkajs producer (acks=all) and a consumer with
 * the host's settings, one message every `1 / rate` s, timed from send to the consumer's batch.
 */
export async function kafkaHopLatency(
  brokers: string,
  rate: number,
  seconds: number,
): Promise<PathLatency> {
  const kafka = new Kafka({ ...clientSettings([brokers]), logLevel: logLevel.NOTHING });
  const topic = `hop-${Date.now()}`;
  const producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumer = kafka.consumer(consumerSettings(`${topic}-group`));
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: "warm-up", value: "{}" }] });
    let joined: () => void = () => {};
    const join = new Promise<void>((resolve) => joined = resolve);
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      ...RUN_SETTINGS,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const now = performance.now();
        for (const message of batch.messages) {
          const key = message.key?.toString() ?? "";
          const started = sent.get(key);
          if (started !== undefined) {
            latencies.push(now - started);
            sent.delete(key);
          }
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
    await join;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const ticks = Math.round(rate * seconds);
    const start = performance.now();
    for (let i = 0; i < ticks; i++) {
      const wait = start + i * 1000 / rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const key = crypto.randomUUID();
      sent.set(key, performance.now());
      await producer.send({ topic, acks: -1, messages: [{ key, value: "{}" }] });
    }
    const until = performance.now() + 10_000;
    while (sent.size > 0 && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
  }
  return summarize(latencies, sent.size);
}
