import assert from "node:assert/strict";
import {
  missingPostgres,
  missingRedis,
  postgresUrl,
  redisUrl as redisUrl_,
  testWhen,
} from "../runtime/_test_needs.ts";
import { startTestHost } from "../tests/_harness.ts";
import { SpanKind } from "../testing/otlp_receiver.ts";
import { waitFor } from "../testing/wait.ts";
import { formatReport, runLoad } from "./mod.ts";

const hostTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

hostTest(
  "runLoad: every accepted message lands, each one trace from app1 to its store",
  async () => {
    const test = await startTestHost({ services: ["app1", "app2", "app3", "app4"] });
    try {
      const report = await runLoad({
        target: test.url("app1"),
        rate: 20,
        durationMs: 1500,
        path: "both",
        landing: { kind: "http", app3: test.url("app3"), app4: test.url("app4") },
        landingTimeoutMs: 20_000,
      });
      assert.ok(report.sent >= 25 && report.sent <= 35, `sent ${report.sent} at 20/s for 1.5 s`);
      assert.equal(report.accepted, report.sent);
      assert.equal(report.landed, report.sent);
      assert.equal(report.lost, 0);
      assert.deepEqual(report.lostMessages, []);
      assert.equal(report.routes.message?.landed, Math.ceil(report.sent / 2));
      assert.equal(report.routes["post-message"]?.landed, Math.floor(report.sent / 2));
      assert.ok(report.landingLatencyMs.p50 > 0 && report.landingLatencyMs.p99 < 20_000);
      assert.ok(report.acceptLatencyMs.p99 >= report.acceptLatencyMs.p50);
      assert.ok(report.throughput.sent > 15 && report.throughput.sent < 25);
      // The landed rate runs from the first send to the last landing, the sent rate over the
      // sending time: a run whose last message lands before sending ends can land "faster".
      assert.ok(report.throughput.landed > 0);
      assert.match(formatReport(report), /lost 0/);

      // Each message is one trace: app1's server span continues the generator's traceparent, and
      // the Kafka path's trace reaches app4's consumer.
      const entries = await waitFor("app1's spans", () => {
        const spans = test.receiver.spans.filter((span) =>
          span.service === "app1" && span.kind === SpanKind.SERVER
        );
        return spans.length === report.sent ? spans : undefined;
      });
      assert.equal(new Set(entries.map((span) => span.traceId)).size, report.sent);
      assert.ok(
        entries.every((span) => span.parentSpanId),
        "app1's spans have the caller as parent",
      );
      const kafkaTraces = entries.filter((span) => span.name === "POST /Message/Post-Message");
      await waitFor(
        "app4's span in every Kafka trace",
        () =>
          kafkaTraces.every((span) =>
              test.receiver.trace(span.traceId).some((s) =>
                s.service === "app4" && s.kind === SpanKind.CONSUMER
              )
            )
            ? true
            : undefined,
      );
    } finally {
      await test.stop();
    }
  },
);

hostTest(
  "runLoad: accepted messages that never land are reported lost, with their traces",
  async () => {
    // app1 alone: the Kafka path accepts (the message is in the bus) but nothing takes it further.
    const test = await startTestHost({ services: ["app1"] });
    try {
      const report = await runLoad({
        target: test.url("app1"),
        concurrency: 2,
        durationMs: 300,
        path: "post-message",
        landing: { kind: "http", app3: "http://127.0.0.1:9", app4: "http://127.0.0.1:9" },
        landingTimeoutMs: 300,
      });
      assert.ok(report.accepted > 0);
      assert.equal(report.landed, 0);
      assert.equal(report.lost, report.accepted);
      assert.equal(report.lostMessages.length, Math.min(20, report.accepted));
      assert.match(report.lostMessages[0].traceId, /^[0-9a-f]{32}$/);
      assert.match(formatReport(report), /lost post-message [0-9a-f-]{36} \(trace [0-9a-f]{32}\)/);
    } finally {
      await test.stop();
    }
  },
);

hostTest(
  "deno task load: exits 1 when accepted messages were lost, 2 on bad arguments",
  async () => {
    const test = await startTestHost({ services: ["app1"] });
    try {
      const main = new URL("./main.ts", import.meta.url).pathname;
      const run = (...args: string[]) =>
        new Deno.Command(Deno.execPath(), { args: ["run", "-A", main, ...args] }).output();
      const lost = await run(
        ...["--target", test.url("app1"), "--rate", "20", "--duration", "300ms"],
        ...["--path", "post-message", "--app4", "http://127.0.0.1:9", "--landing-timeout", "200ms"],
        "--json",
      );
      assert.equal(lost.code, 1);
      const report = JSON.parse(new TextDecoder().decode(lost.stdout));
      assert.ok(report.accepted > 0 && report.lost === report.accepted);

      const bad = await run("--rate", "0");
      assert.equal(bad.code, 2);
      assert.match(new TextDecoder().decode(bad.stderr), /--rate must be a number above 0/);
      const both = await run("--rate", "3", "--concurrency", "2");
      assert.equal(both.code, 2);
    } finally {
      await test.stop();
    }
  },
);

testWhen([missingPostgres(), missingRedis()], {
  name: "runLoad: landings checked in PostgreSQL and Redis directly",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const databaseUrl = postgresUrl()!;
    const redisUrl = redisUrl_()!;
    const test = await startTestHost({
      services: ["app1", "app2", "app3", "app4"],
      env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
    });
    try {
      const report = await runLoad({
        target: test.url("app1"),
        concurrency: 4,
        durationMs: 500,
        path: "both",
        landing: { kind: "stores", databaseUrl, redisUrl },
        landingTimeoutMs: 20_000,
      });
      assert.ok(report.accepted > 4);
      assert.equal(report.lost, 0);
      assert.equal(report.landed, report.accepted);
      assert.ok(report.routes.message!.landingLatencyMs.samples > 0);
      assert.ok(report.routes["post-message"]!.landingLatencyMs.samples > 0);
    } finally {
      await test.stop();
    }
  },
});

hostTest(
  "runLoad: keepMessages reports each message: answer, Purchase partition, landing",
  async () => {
    const test = await startTestHost({ services: ["app1", "app2", "app3", "app4"] });
    try {
      const report = await runLoad({
        target: test.url("app1"),
        rate: 20,
        durationMs: 1000,
        path: "both",
        landing: { kind: "http", app3: test.url("app3"), app4: test.url("app4") },
        landingTimeoutMs: 20_000,
        keepMessages: true,
      });
      const messages = report.messages ?? [];
      assert.equal(messages.length, report.sent);
      for (const message of messages) {
        assert.equal(message.status, message.route === "message" ? 201 : 202);
        assert.ok(message.settledMs > 0 && message.settledMs < 20_000);
        assert.ok(message.landedAt! >= message.sentAt - 5, "landed after it was sent");
        if (message.route === "post-message") {
          assert.ok([0, 1, 2, 3].includes(message.partition!), String(message.partition));
        } else assert.equal(message.partition, undefined);
      }
    } finally {
      await test.stop();
    }
  },
);
