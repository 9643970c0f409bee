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

testWhen(missingKcat(), {
  name:
    "connectKafka: fetching runs ahead of a slow handler, which gets what arrived meanwhile as one batch; only handled offsets are committed",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const mock = await MockKafka.start();
    const log = createLogger({ service: "test", level: "error", write: () => {} });
    const bus = connectKafka([mock.brokers], {
      log,
      sessionTimeoutMs: 3000,
      batch: { lingerMs: 0, maxMessages: 1, maxBytes: 1 << 20 },
    });
    try {
      const topic = `prefetch-${Date.now()}`;
      // One key, so one partition; each send its own produce request, so its own record batch,
      // and librdkafka's mock broker answers a fetch with one record batch per partition.
      for (let i = 0; i < 40; i++) {
        await bus.send(topic, { key: "one", value: `value ${i}`, headers: {} });
      }
      const sizes: number[] = [];
      const offsets: number[] = [];
      const first = await bus.subscribe(`${topic}-a`, topic, async (batch, control) => {
        sizes.push(batch.messages.length);
        await new Promise((resolve) => setTimeout(resolve, 150));
        for (const message of batch.messages) {
          offsets.push(Number(message.offset));
          control.resolveOffset(message.offset);
        }
      });
      try {
        await waitFor("all 40 handled", () => offsets.length === 40, 20_000);
      } finally {
        await first.stop();
      }
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), "in offset order");
      assert.equal(new Set(offsets).size, 40, "each once");
      assert.ok(
        Math.max(...sizes) > 1,
        `messages fetched while the handler worked come as one batch (sizes ${sizes})`,
      );

      // A member that handles only the first ten leaves the rest to the next one.
      const seen: number[] = [];
      const partial = await bus.subscribe(`${topic}-b`, topic, (batch, control) => {
        for (const message of batch.messages) {
          seen.push(Number(message.offset));
          if (Number(message.offset) < offsets[10]) control.resolveOffset(message.offset);
        }
        return Promise.resolve();
      });
      try {
        await waitFor("all 40 fetched", () => new Set(seen).size === 40, 20_000);
      } finally {
        await partial.stop();
      }
      const next: number[] = [];
      const second = await bus.subscribe(`${topic}-b`, topic, (batch, control) => {
        for (const message of batch.messages) {
          next.push(Number(message.offset));
          control.resolveOffset(message.offset);
        }
        return Promise.resolve();
      });
      try {
        await waitFor("the rest delivered again", () => next.length >= 30, 20_000);
      } finally {
        await second.stop();
      }
      assert.equal(next[0], offsets[10], "the next member starts at the first unhandled offset");
    } finally {
      await bus.close();
      await mock.stop();
    }
  },
});

testWhen(missingKcat(), {
  name:
    "connectKafka: a batch that fails is delivered again, and nothing fetched after it is committed past it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const mock = await MockKafka.start();
    const bus = connectKafka([mock.brokers], {
      log: createLogger({ service: "test", level: "error", write: () => {} }),
      sessionTimeoutMs: 3000,
      batch: { lingerMs: 0, maxMessages: 1, maxBytes: 1 << 20 },
    });
    try {
      const topic = `failing-${Date.now()}`;
      for (let i = 0; i < 40; i++) {
        await bus.send(topic, { key: "one", value: `value ${i}`, headers: {} });
      }
      let failed = false;
      const handled = new Set<number>();
      const subscription = await bus.subscribe(`${topic}-group`, topic, async (batch, control) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (!failed) {
          failed = true; // while this first batch "worked", later ones were fetched
          throw new Error("the handler failed");
        }
        for (const message of batch.messages) {
          handled.add(Number(message.offset));
          control.resolveOffset(message.offset);
        }
      });
      try {
        // Messages that arrive after the failure must not be committed past the failed ones.
        await waitFor("the failure", () => failed, 10_000);
        for (let i = 40; i < 60; i++) {
          await bus.send(topic, { key: "one", value: `value ${i}`, headers: {} });
        }
        await waitFor("all 60 handled", () => handled.size === 60, 30_000);
      } finally {
        await subscription.stop();
      }
    } finally {
      await bus.close();
      await mock.stop();
    }
  },
});
