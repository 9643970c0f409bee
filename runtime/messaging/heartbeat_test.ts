import assert from "node:assert/strict";
import { MockKafka } from "../../testing/kafka_mock.ts";
import { waitFor } from "../../testing/wait.ts";
import { missingKcat, testWhen } from "../_test_needs.ts";
import { functionContext, memoryTelemetry } from "../_test_util.ts";
import type { IncomingMessage, KafkaFunction } from "../function.ts";
import { runConsumer } from "./consumer.ts";
import { connectKafka } from "./kafka.ts";
import { createProducer } from "./producer.ts";

const SESSION_TIMEOUT_MS = 3000;

testWhen(missingKcat(), {
  name:
    "runConsumer: a handler slower than the session timeout (app2 waiting on app3) keeps the group's membership",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const mock = await MockKafka.start();
    const telemetry = memoryTelemetry("app2", "warn");
    const bus = connectKafka([mock.brokers], {
      log: telemetry.log,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
    });
    const topic = `slow-${crypto.randomUUID()}`;
    const handled: string[] = [];
    const fn: KafkaFunction = {
      name: "forward-purchase",
      topic,
      group: `${topic}-app2`,
      async handle(message: IncomingMessage) {
        // Longer than the session timeout, as a call to a slow app3 may take.
        if (message.value === "slow") {
          await new Promise((r) => setTimeout(r, SESSION_TIMEOUT_MS + 2000));
        }
        handled.push(message.value);
      },
    };
    const ctx = functionContext("app2", telemetry.log);
    try {
      await bus.send(topic, { key: "k", value: "first", headers: {} });
      const subscription = await runConsumer({
        fn,
        ctx,
        bus,
        telemetry,
        producer: createProducer(bus, telemetry.tracer, telemetry.metrics),
        maxAttempts: 3,
        backoffMs: 50,
      });
      await waitFor("the group to join and the first message", () => handled.length === 1, 30_000);
      await bus.send(topic, { key: "k", value: "slow", headers: {} });
      await bus.send(topic, { key: "k", value: "after", headers: {} });
      await waitFor("the messages behind the slow one", () => handled.length === 3, 30_000);
      await new Promise((r) => setTimeout(r, 1000)); // a redelivery would show up by now
      await subscription.stop();
      assert.deepEqual(handled, ["first", "slow", "after"], "each handled once, in order");
      assert.deepEqual(
        telemetry.records.filter((r) => /crash|rebalanc/i.test(JSON.stringify(r))).map((r) =>
          r.message
        ),
        [],
      );
    } finally {
      await bus.close();
      await mock.stop();
    }
  },
});
