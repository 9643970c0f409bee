import assert from "node:assert/strict";
import { MockKafka } from "../../testing/kafka_mock.ts";
import { missingKcat, testWhen } from "../_test_needs.ts";
import { waitFor } from "../../testing/wait.ts";
import { createLogger } from "../log.ts";
import type { StoredMessage } from "./bus.ts";
import { connectKafka } from "./kafka.ts";

testWhen(missingKcat(), {
  name:
    "connectKafka: sends of one linger share a produce request; each caller gets its own offset",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const mock = await MockKafka.start();
    const lines: string[] = [];
    const bus = connectKafka([mock.brokers], {
      log: createLogger({ service: "test", level: "warn", write: (line) => lines.push(line) }),
      sessionTimeoutMs: 3000,
      batch: { lingerMs: 20, maxMessages: 1000, maxBytes: 1 << 20 },
    });
    try {
      const topic = `linger-${Date.now()}`;
      await bus.send(topic, { key: "warm-up", value: "{}", headers: {} });
      const keys = Array.from({ length: 60 }, (_, i) => `key-${i % 12}`);
      const deliveries = await Promise.all(
        keys.map((key, i) => bus.send(topic, { key, value: `value ${i}`, headers: { n: `${i}` } })),
      );
      const sizes = new Set(deliveries.map((delivery) => delivery.batch?.messages));
      assert.deepEqual([...sizes], [60], "all 60 sends went out in one request");
      const partitions = new Set(deliveries.map((delivery) => delivery.partition));
      assert.ok(partitions.size > 1, "the keys spread over several partitions");
      for (let k = 0; k < 12; k++) {
        const mine = deliveries.filter((_, i) => keys[i] === `key-${k}`);
        assert.equal(new Set(mine.map((d) => d.partition)).size, 1, "one key, one partition");
      }

      const read = new Map<string, StoredMessage>();
      const subscription = await bus.subscribe(`${topic}-group`, topic, (batch, control) => {
        for (const message of batch.messages) {
          read.set(`${batch.partition}:${message.offset}`, message);
          control.resolveOffset(message.offset);
        }
        return Promise.resolve();
      });
      try {
        await waitFor("every message read back", () => read.size === 61, 20_000);
      } finally {
        await subscription.stop();
      }
      for (const [i, delivery] of deliveries.entries()) {
        const stored = read.get(`${delivery.partition}:${delivery.offset}`);
        assert.equal(stored?.value, `value ${i}`, "the offset a caller got holds its message");
        assert.equal(stored?.key, keys[i]);
        assert.equal(stored?.headers.n, `${i}`);
      }
    } finally {
      await bus.close();
      await mock.stop();
    }
    assert.deepEqual(lines, [], "no warnings");
  },
});
