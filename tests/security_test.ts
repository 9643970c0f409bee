/**
 * No message contents or credentials in logs, OTLP log records, spans, error answers or
 * dead-letter headers, on the happy path and on the error paths, where they would leak: a 409, bad
 * input, a dead-lettered message, and (against real servers) PostgreSQL and Redis outages with
 * their retries. The real servers are reached with real passwords: a PostgreSQL role created (and
 * dropped) by the test, and a Redis of the test's own that requires a password.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { MockKafka } from "../testing/kafka_mock.ts";
import { OtlpReceiver } from "../testing/otlp_receiver.ts";
import { waitFor } from "../testing/wait.ts";
import {
  missingKcat,
  missingPostgres,
  missingTool,
  postgresUrl,
  testWhen,
} from "../runtime/_test_needs.ts";
import { DLQ_SUFFIX } from "../runtime/messaging/consumer.ts";
import { TcpProxy } from "./_faults.ts";
import { postJson, startTestHost, type TestHost } from "./_harness.ts";
import { PrivateRedis } from "../testing/redis_server.ts";

/** Distinctive values that must never appear where they do not belong. */
function secrets() {
  const tag = () => crypto.randomUUID().slice(0, 13);
  return {
    content: `top-secret-content-${tag()}`,
    otlpToken: `otlp-token-${tag()}`,
    otlpQueryToken: `otlp-query-${tag()}`,
    databasePassword: `pg-password-${tag()}`,
    redisPassword: `redis-password-${tag()}`,
  };
}
type Secrets = ReturnType<typeof secrets>;

/** Telemetry settings carrying the OTLP secrets: a header token and one in the URL. */
function telemetryEnv(receiver: OtlpReceiver, s: Secrets): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${s.otlpToken}`,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces?token=${s.otlpQueryToken}`,
    LOG_LEVEL: "debug",
    LOG_FORMAT: "json",
  };
}

const post = (url: string, body: unknown) => postJson(url, body).then((r) => JSON.stringify(r));

/**
 * The happy path and the error paths every backend has: a 409, bad input quoting the content,
 * a message dead-lettered for being too long. Returns what the error answers and the dead letter
 * carried that the secrets must stay out of.
 */
async function exercise(test: TestHost, s: Secrets): Promise<string[]> {
  const app1 = test.url("app1");
  const stored = await postJson(`${app1}/Message`, { content: s.content });
  assert.equal(stored.status, 201);
  const published = await postJson(`${app1}/Message/Post-Message`, { content: s.content });
  assert.equal(published.status, 202);
  await waitFor("the message in app4's cache", async () => {
    const response = await fetch(`${test.url("app4")}/Message/${published.body.id}`);
    await response.body?.cancel();
    return response.status === 200;
  });
  const answers = [
    // 409: the id holds other content.
    await post(`${app1}/Message`, { id: stored.body.id, content: `${s.content}-other` }),
    // 400s whose input holds the content where a value is expected.
    await post(`${app1}/Message`, { content: s.content, extra: s.content }),
    await post(`${app1}/Message`, { id: s.content, content: "x" }),
    await post(`${app1}/Message`, { content: [s.content] }),
  ];
  assert.deepEqual(answers.map((a) => JSON.parse(a).status), [409, 400, 400, 400]);

  // Too long for app3: app2 dead-letters it at once; its dlq.* headers say why, without it.
  const id = crypto.randomUUID();
  const long = `${s.content} ${"x".repeat(10_001)}`;
  await test.host.bus!.send("Purchase", {
    key: id,
    value: JSON.stringify({ id, content: long }),
    headers: {},
  });
  let headers: Record<string, string> | undefined;
  const inspector = await test.host.bus!.subscribe(
    `inspector-${id}`,
    `Purchase${DLQ_SUFFIX}`,
    (batch, control) => {
      for (const message of batch.messages) {
        if (message.key === id) headers = { ...message.headers };
        control.resolveOffset(message.offset);
      }
      return Promise.resolve();
    },
  );
  try {
    await waitFor("the dead letter", () => headers !== undefined, 30_000);
  } finally {
    await inspector.stop();
  }
  assert.equal(headers!["dlq.error.type"], "PermanentError");
  answers.push(JSON.stringify(headers));
  return answers;
}

/** Fails naming the place and the secret when a secret shows up where it must not. */
function assertNoSecrets(test: TestHost, s: Secrets, more: Record<string, string>): void {
  const places: Record<string, string> = {
    stdout: test.logs.join("\n"),
    "OTLP logs": JSON.stringify(test.receiver.logs),
    spans: JSON.stringify(test.receiver.spans),
    ...more,
  };
  assert.ok(places.stdout.length > 1000 && places.spans.length > 1000, "the flow was recorded");
  for (const [place, text] of Object.entries(places)) {
    for (const [name, secret] of Object.entries(s)) {
      assert.ok(!text.includes(secret), `${place} contains ${name}`);
    }
  }
  // Ids are there, as they should be, so the check looks at the right data.
  assert.match(places.stdout, /"message_id":"[0-9a-f-]{36}"/);
}

Deno.test({
  name: "no contents or credentials leak on the happy and error paths [embedded]",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = secrets();
    const receiver = await OtlpReceiver.start();
    const test = await startTestHost({
      env: telemetryEnv(receiver, s),
      receiver,
      services: ["app1", "app2", "app3", "app4"],
    });
    try {
      const answers = await exercise(test, s);
      await waitFor(
        "app4's OTLP log record",
        () =>
          test.receiver.logs.some((log) => log.service === "app4" && log.body === "message cached"),
      );
      assertNoSecrets(test, s, { "error answers and dead-letter headers": answers.join("\n") });
    } finally {
      await test.stop();
      await receiver.stop();
    }
  },
});

/** A PostgreSQL role with `password` owning a schema of its own; dropped by `drop`. */
async function postgresRole(password: string) {
  const admin = postgres(postgresUrl()!, { max: 1, onnotice: () => {} });
  const name = `otel_security_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await admin.unsafe(`create role ${name} login password '${password}'`);
  await admin.unsafe(`create schema ${name} authorization ${name}`);
  const url = new URL(postgresUrl()!);
  url.username = name;
  url.password = password;
  url.searchParams.set("search_path", name);
  return {
    url,
    async drop() {
      await admin.unsafe(`drop schema if exists ${name} cascade`);
      await admin.unsafe(`drop role if exists ${name}`);
      await admin.end();
    },
  };
}

testWhen([missingPostgres(), missingTool("redis-server", "redis-server"), missingKcat()], {
  name:
    "no contents or credentials leak on the happy and error paths, PostgreSQL and Redis outages included [real servers with passwords]",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = secrets();
    const role = await postgresRole(s.databasePassword);
    const redis = await PrivateRedis.start({ password: s.redisPassword });
    const kafka = await MockKafka.start();
    const target = new URL(postgresUrl()!);
    const pgProxy = await TcpProxy.start({
      hostname: target.hostname,
      port: Number(target.port) || 5432,
    });
    const redisProxy = await TcpProxy.start({ hostname: "127.0.0.1", port: redis.port });
    const databaseUrl = new URL(role.url);
    databaseUrl.host = `127.0.0.1:${pgProxy.port}`;
    const receiver = await OtlpReceiver.start();
    let test: TestHost | undefined;
    try {
      test = await startTestHost({
        env: {
          ...telemetryEnv(receiver, s),
          DATABASE_URL: databaseUrl.href,
          REDIS_URL: `redis://:${s.redisPassword}@127.0.0.1:${redisProxy.port}`,
          KAFKA_BROKERS: kafka.brokers,
        },
        receiver,
        services: ["app1", "app2", "app3", "app4"],
      });
      const answers = await exercise(test, s);

      // Outages: PostgreSQL refuses connections, Redis swallows them; retries and 503s meanwhile.
      await pgProxy.cut("refuse");
      await redisProxy.cut("blackhole");
      const during = await postJson(`${test.url("app1")}/Message`, { content: s.content });
      assert.equal(during.status, 503);
      answers.push(JSON.stringify(during));
      const waiting = await postJson(`${test.url("app1")}/Message/Post-Message`, {
        content: s.content,
      });
      assert.equal(waiting.status, 202);
      await waitFor(
        "app4 retrying while Redis is away",
        () => test!.logs.some((line) => line.includes('"dependency unavailable; retrying"')),
        30_000,
      );
      for (const service of ["app3", "app4"] as const) {
        answers.push(await (await fetch(`${test.url(service)}/readyz`)).text());
      }
      await pgProxy.restore();
      await redisProxy.restore();
      await waitFor("the message held during the outage", async () => {
        const response = await fetch(`${test!.url("app4")}/Message/${waiting.body.id}`);
        await response.body?.cancel();
        return response.status === 200;
      }, 30_000);
      assertNoSecrets(test, s, { "error answers and dead-letter headers": answers.join("\n") });
    } finally {
      await test?.stop();
      await receiver.stop();
      await Promise.all([pgProxy.stop(), redisProxy.stop(), kafka.stop(), redis.stop()]);
      await role.drop();
    }
  },
});
