import assert from "node:assert/strict";
import { delay, waitFor } from "../../testing/wait.ts";
import type { Batch, BatchControl, StoredMessage, Subscription } from "./bus.ts";
import { EmbeddedBus, PARTITIONS } from "./embedded.ts";

/** Runs `fn` with a folder that is removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with a bus in a folder of its own, closed and removed afterwards. */
function withBus(fn: (bus: EmbeddedBus, dir: string) => Promise<void>): Promise<void> {
  return inTempDir(async (dir) => {
    const bus = await EmbeddedBus.open(dir);
    try {
      await fn(bus, dir);
    } finally {
      await bus.close();
    }
  });
}

const message = (key: string, value = `value of ${key}`, headers: Record<string, string> = {}) => ({
  key,
  value,
  headers,
});

/** A handler that records every message and resolves it. */
function collector() {
  const seen: Array<StoredMessage & { partition: number }> = [];
  const batches: Batch[] = [];
  const handler = (batch: Batch, control: BatchControl) => {
    batches.push(batch);
    for (const stored of batch.messages) {
      seen.push({ ...stored, partition: batch.partition });
      control.resolveOffset(stored.offset);
    }
    return Promise.resolve();
  };
  return { seen, batches, handler };
}

/** A key that the bus puts on `partition` (found by trying). */
async function keyOn(dir: string, partition: number): Promise<string> {
  const bus = await EmbeddedBus.open(`${dir}/probe`);
  try {
    for (let i = 0;; i++) {
      const delivery = await bus.send("probe", message(`k${i}`));
      if (delivery.partition === partition) return `k${i}`;
    }
  } finally {
    await bus.close();
  }
}

Deno.test("EmbeddedBus: send appends with consecutive offsets per partition", async () => {
  await withBus(async (bus) => {
    const deliveries = [];
    for (let i = 0; i < 5; i++) deliveries.push(await bus.send("Purchase", message("same-key")));
    const partition = deliveries[0].partition;
    assert.ok(partition >= 0 && partition < PARTITIONS);
    assert.deepEqual(
      deliveries.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      [0, 1, 2, 3, 4].map((offset) => ({ topic: "Purchase", partition, offset: String(offset) })),
    );
    assert.equal(bus.highWatermark("Purchase", partition), 5);
    await bus.ping();
  });
});

Deno.test("EmbeddedBus: sends of one turn are appended together; each gets its own offset", async () => {
  await inTempDir(async (dir) => {
    const bus = await EmbeddedBus.open(dir);
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `key-${i % 10}`);
      const deliveries = await Promise.all(
        keys.map((key, i) => bus.send("Purchase", message(key, `v${i}`))),
      );
      assert.ok(deliveries.every((delivery) => delivery.batch?.messages === 40));
      for (const [i, delivery] of deliveries.entries()) {
        const [stored] = bus.read("Purchase", delivery.partition, Number(delivery.offset));
        assert.equal(stored.value, `v${i}`, "the offset a caller got holds its own message");
        assert.equal(stored.key, keys[i]);
      }
      // Per key, offsets rise in the order of the sends.
      for (let k = 0; k < 10; k++) {
        const mine = deliveries.filter((_, i) => keys[i] === `key-${k}`);
        assert.equal(new Set(mine.map((delivery) => delivery.partition)).size, 1);
        const offsets = mine.map((delivery) => Number(delivery.offset));
        assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
      }
    } finally {
      await bus.close();
    }
    // Reopened from the files, the same messages are at the same offsets.
    const reopened = await EmbeddedBus.open(dir);
    try {
      const total = Array.from(
        { length: PARTITIONS },
        (_, p) => reopened.read("Purchase", p, 0).length,
      )
        .reduce((a, b) => a + b, 0);
      assert.equal(total, 40);
    } finally {
      await reopened.close();
    }
  });
});

Deno.test("EmbeddedBus: a key always maps to the same partition; keys spread over all", async () => {
  await inTempDir(async (dir) => {
    const first = await EmbeddedBus.open(`${dir}/a`);
    const second = await EmbeddedBus.open(`${dir}/b`);
    try {
      const used = new Set<number>();
      for (let i = 0; i < 64; i++) {
        const key = crypto.randomUUID();
        const a = await first.send("t", message(key));
        const b = await second.send("t", message(key));
        const again = await first.send("t", message(key));
        assert.equal(a.partition, b.partition, key);
        assert.equal(a.partition, again.partition, key);
        used.add(a.partition);
      }
      assert.equal(used.size, PARTITIONS);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

Deno.test({
  name: "EmbeddedBus: a subscriber gets every message, in order per partition, with its data",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      const { seen, batches, handler } = collector();
      try {
        const keys = Array.from({ length: 20 }, (_, i) => `key-${i % 5}`);
        for (const [i, key] of keys.entries()) {
          await bus.send("Purchase", message(key, `v${i}`, { traceparent: `tp-${i}` }));
        }
        const subscription = await bus.subscribe("app2", "Purchase", handler);
        assert.equal(subscription.ready(), true);
        await waitFor("all messages", () => seen.length === 20);
        // Per key (so per partition), values arrive in send order.
        for (let k = 0; k < 5; k++) {
          const values = seen.filter((m) => m.key === `key-${k}`).map((m) => m.value);
          assert.deepEqual(values, keys.flatMap((key, i) => key === `key-${k}` ? [`v${i}`] : []));
        }
        const first = seen.find((m) => m.value === "v0")!;
        assert.deepEqual(first.headers, { traceparent: "tp-0" });
        assert.ok(Math.abs(Number(first.timestamp) - Date.now()) < 5000);
        for (const batch of batches) {
          assert.equal(batch.topic, "Purchase");
          assert.equal(batch.highWatermark, String(bus.highWatermark("Purchase", batch.partition)));
        }
        // Messages sent while subscribed arrive too.
        await bus.send("Purchase", message("late", "late value"));
        await waitFor("the late message", () => seen.some((m) => m.value === "late value"));
        await subscription.stop();
        assert.equal(subscription.ready(), false);
      } finally {
        await bus.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: groups keep their own offsets and each get every message",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      try {
        const app2 = collector();
        const audit = collector();
        await bus.subscribe("app2", "Purchase", app2.handler);
        await bus.subscribe("audit", "Purchase", audit.handler);
        for (let i = 0; i < 6; i++) await bus.send("Purchase", message(`k${i}`));
        await waitFor("app2's messages", () => app2.seen.length === 6);
        await waitFor("audit's messages", () => audit.seen.length === 6);
        assert.deepEqual(
          app2.seen.map((m) => m.key).sort(),
          audit.seen.map((m) => m.key).sort(),
        );
        for (let p = 0; p < PARTITIONS; p++) {
          assert.equal(bus.position("app2", "Purchase", p), bus.highWatermark("Purchase", p));
          assert.equal(bus.position("audit", "Purchase", p), bus.highWatermark("Purchase", p));
        }
      } finally {
        await bus.close();
      }
      const { offsets } = JSON.parse(await Deno.readTextFile(`${dir}/offsets.json`));
      assert.deepEqual(Object.keys(offsets).sort(), ["app2", "audit"]);
    });
  },
});

Deno.test({
  name: "EmbeddedBus: a group joining after every known group consumed starts at the end",
  sanitizeOps: false,
  fn: async () => {
    await withBus(async (bus) => {
      const early = collector();
      await bus.subscribe("early", "Purchase", early.handler);
      await bus.send("Purchase", message("k", "consumed by all"));
      await waitFor("the early group", () => early.seen.length === 1);
      const late = collector();
      await bus.subscribe("late", "Purchase", late.handler);
      await bus.send("Purchase", message("k", "new"));
      await waitFor("the late group", () => late.seen.length === 1);
      assert.deepEqual(late.seen.map((m) => m.value), ["new"]);
    });
  },
});

Deno.test({
  name: "EmbeddedBus: offsets not resolved are delivered again after a reopen (at least once)",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const key = await keyOn(dir, 1);
      const bus = await EmbeddedBus.open(`${dir}/bus`);
      for (let i = 0; i < 3; i++) await bus.send("Purchase", message(key, `v${i}`));
      let release: () => void = () => {};
      const holding = new Promise<void>((resolve) => release = resolve);
      let handled = false;
      const subscription = await bus.subscribe("app2", "Purchase", async (batch, control) => {
        control.resolveOffset(batch.messages[0].offset); // only the first is done
        handled = true;
        await holding;
      });
      await waitFor("the first batch", () => handled);
      const stopped = subscription.stop();
      release();
      await stopped;
      await bus.close();

      const reopened = await EmbeddedBus.open(`${dir}/bus`);
      const { seen, handler } = collector();
      try {
        await reopened.subscribe("app2", "Purchase", handler);
        await waitFor("the redelivery", () => seen.length === 2);
        assert.deepEqual(seen.map((m) => [m.offset, m.value]), [["1", "v1"], ["2", "v2"]]);
        // The next send continues the partition's offsets.
        const delivery = await reopened.send("Purchase", message(key, "v3"));
        assert.equal(delivery.offset, "3");
        await waitFor("the new message", () => seen.length === 3);
      } finally {
        await reopened.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: a handler that throws gets the uncommitted messages again",
  sanitizeOps: false,
  fn: async () => {
    await withBus(async (bus) => {
      const key = "one-key";
      for (let i = 0; i < 3; i++) await bus.send("Purchase", message(key, `v${i}`));
      const deliveries: string[][] = [];
      await bus.subscribe("app2", "Purchase", (batch, control) => {
        deliveries.push(batch.messages.map((m) => m.value));
        control.resolveOffset(batch.messages[0].offset);
        if (deliveries.length === 1) return Promise.reject(new Error("crashed mid-batch"));
        for (const m of batch.messages) control.resolveOffset(m.offset);
        return Promise.resolve();
      });
      await waitFor("the redelivery", () => deliveries.length === 2, 3000);
      assert.deepEqual(deliveries, [["v0", "v1", "v2"], ["v1", "v2"]]);
    });
  },
});

Deno.test({
  name: "EmbeddedBus: messages survive a reopen; a new group starts at the earliest kept",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      await bus.send("odd/topic name", message("k", "v", { h: "1" }));
      await bus.send("Purchase.DLQ", message("k", "dead"));
      await bus.close();
      const reopened = await EmbeddedBus.open(dir);
      try {
        const odd = collector();
        const dlq = collector();
        await reopened.subscribe("g", "odd/topic name", odd.handler);
        await reopened.subscribe("g", "Purchase.DLQ", dlq.handler);
        await waitFor("both topics", () => odd.seen.length === 1 && dlq.seen.length === 1);
        assert.equal(odd.seen[0].value, "v");
        assert.deepEqual(odd.seen[0].headers, { h: "1" });
        assert.equal(odd.seen[0].offset, "0");
        assert.equal(dlq.seen[0].value, "dead");
      } finally {
        await reopened.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: a line cut short by a crash is dropped on reopen, later sends are kept",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      const { partition } = await bus.send("Purchase", message("k", "whole"));
      await bus.close();
      await Deno.writeTextFile(
        `${dir}/topics/Purchase/${partition}.log`,
        '{"o":1,"k":"k","v":"cut sh',
        { append: true },
      );
      const reopened = await EmbeddedBus.open(dir);
      try {
        const delivery = await reopened.send("Purchase", message("k", "after"));
        assert.equal(delivery.offset, "1", "the cut message was never acknowledged");
        const { seen, handler } = collector();
        await reopened.subscribe("g", "Purchase", handler);
        await waitFor("both messages", () => seen.length === 2);
        assert.deepEqual(seen.map((m) => m.value), ["whole", "after"]);
      } finally {
        await reopened.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: trimming keeps what a subscribed group has not committed",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      for (let i = 0; i < 8; i++) await bus.send("Purchase", message(`k${i}`, `v${i}`));
      // app4 subscribes first but is slow: it holds its first batch and commits nothing.
      let release: () => void = () => {};
      const holding = new Promise<void>((resolve) => release = resolve);
      let slowStarted = false;
      const slow = await bus.subscribe("slow", "Purchase", async () => {
        slowStarted = true;
        await holding;
      });
      await waitFor("the slow group's first batch", () => slowStarted);
      const fast = collector();
      await bus.subscribe("fast", "Purchase", fast.handler);
      await waitFor("the fast group", () => fast.seen.length === 8);
      // The fast group's commits trim nothing the slow group still needs.
      for (let p = 0; p < PARTITIONS; p++) {
        assert.equal(
          bus.read("Purchase", p, 0).length,
          bus.highWatermark("Purchase", p),
          `partition ${p} was trimmed`,
        );
      }
      const stopped = slow.stop();
      release();
      await stopped;
      await bus.close();

      // Also across a reopen: the slow group's position was saved with the fast group's commit.
      const reopened = await EmbeddedBus.open(dir);
      try {
        const late = collector();
        await reopened.subscribe("slow", "Purchase", late.handler);
        await waitFor("every message for the slow group", () => late.seen.length === 8);
        assert.deepEqual(
          late.seen.map((m) => m.value).sort(),
          [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `v${i}`),
        );
      } finally {
        await reopened.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: once every group committed, a reopen drops what all have consumed",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir);
      const { partition } = await bus.send("Purchase", message("k", "old"));
      const { seen, handler } = collector();
      await bus.subscribe("app2", "Purchase", handler);
      await waitFor("the message", () => seen.length === 1);
      await bus.close();
      const reopened = await EmbeddedBus.open(dir);
      try {
        assert.deepEqual(reopened.read("Purchase", partition, 1), []);
        assert.equal(reopened.highWatermark("Purchase", partition), 1);
        const log = await Deno.readTextFile(`${dir}/topics/Purchase/${partition}.log`);
        assert.equal(log, "", "the consumed message was compacted away");
        assert.equal((await reopened.send("Purchase", message("k", "new"))).offset, "1");
      } finally {
        await reopened.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: stop waits for the batch in hand, then no more deliveries",
  sanitizeOps: false,
  fn: async () => {
    await withBus(async (bus) => {
      let finished = false;
      let started = false;
      const subscription = await bus.subscribe("g", "t", async (batch, control) => {
        started = true;
        await delay(50);
        for (const m of batch.messages) control.resolveOffset(m.offset);
        finished = true;
      });
      await bus.send("t", message("k"));
      await waitFor("the batch", () => started);
      await subscription.stop();
      assert.equal(finished, true);
      let after = 0;
      const counting = await bus.subscribe("other", "t", () => {
        after++;
        return Promise.resolve();
      });
      await counting.stop();
      await bus.send("t", message("k"));
      await delay(20);
      assert.ok(after <= 1);
    });
  },
});

Deno.test({
  name: "EmbeddedBus: a handler that returns without resolving does not starve the event loop",
  sanitizeOps: false,
  fn: async () => {
    await withBus(async (bus) => {
      await bus.send("t", message("k"));
      let calls = 0;
      const holder: { subscription?: Subscription } = {};
      const stopped: Promise<void>[] = [];
      const subscription = await bus.subscribe("g", "t", () => {
        calls++;
        // A safety valve so a spinning loop ends and the test can report it.
        if (calls === 20_000 && holder.subscription) stopped.push(holder.subscription.stop());
        return Promise.resolve();
      });
      holder.subscription = subscription;
      await delay(100);
      assert.ok(calls < 1000, `the batch was redelivered ${calls} times in 100 ms`);
      await subscription.stop();
      await Promise.all(stopped);
    });
  },
});

const HOUR = 3600_000;
/** Lines in the partition files of `topic`. */
async function fileLines(dir: string, topic: string): Promise<number> {
  let lines = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const text = await Deno.readTextFile(`${dir}/topics/${topic}/${p}.log`).catch(() => "");
    lines += text.split("\n").filter((line) => line !== "").length;
  }
  return lines;
}

Deno.test({
  name:
    "EmbeddedBus: a topic nobody reads (a dead-letter topic) keeps messages for the retention only",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      let now = Date.now();
      const bus = await EmbeddedBus.open(dir, { retentionMs: 24 * HOUR, now: () => now });
      try {
        for (let i = 0; i < 8; i++) await bus.send("Purchase.DLQ", message(`old${i}`));
        now += 23 * HOUR;
        for (let i = 0; i < 4; i++) await bus.send("Purchase.DLQ", message(`new${i}`));
        bus.sweep();
        const kept = () =>
          Array.from({ length: PARTITIONS }, (_, p) => bus.read("Purchase.DLQ", p, 0)).flat();
        assert.equal(kept().length, 12, "nothing is older than the retention yet");
        now += 2 * HOUR;
        bus.sweep();
        assert.deepEqual(kept().map((m) => m.key).sort(), ["new0", "new1", "new2", "new3"]);
        const sent = await bus.send("Purchase.DLQ", message("later"));
        assert.ok(Number(sent.offset) > 0, "offsets go on; nothing is reused");
      } finally {
        await bus.close();
      }
      const reopened = await EmbeddedBus.open(dir, { retentionMs: 24 * HOUR, now: () => now });
      await reopened.close();
      assert.equal(await fileLines(dir, "Purchase.DLQ"), 5, "the files hold only what is kept");
    });
  },
});

Deno.test({
  name:
    "EmbeddedBus: a group that stopped holds messages back for the group retention, then is forgotten",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      let now = Date.now();
      const options = { groupRetentionMs: 48 * HOUR, now: () => now };
      const bus = await EmbeddedBus.open(dir, options);
      try {
        const inspector = await bus.subscribe("inspector", "Purchase", () => Promise.resolve());
        await inspector.stop();
        const app2 = collector();
        await bus.subscribe("app2", "Purchase", app2.handler);
        for (let i = 0; i < 6; i++) await bus.send("Purchase", message(`k${i}`));
        await waitFor("app2's messages", () => app2.seen.length === 6);
        const held = () =>
          Array.from({ length: PARTITIONS }, (_, p) => bus.read("Purchase", p, 0)).flat().length;
        now += 47 * HOUR;
        bus.sweep();
        assert.equal(held(), 6, "the stopped group may still come back");
        now += 2 * HOUR;
        bus.sweep();
        assert.equal(held(), 0, "app2 consumed everything; the stopped group is forgotten");
      } finally {
        await bus.close();
      }
      const { offsets } = JSON.parse(await Deno.readTextFile(`${dir}/offsets.json`));
      assert.deepEqual(Object.keys(offsets), ["app2"]);
    });
  },
});

Deno.test({
  name: "EmbeddedBus: partition files are rewritten while running once most of them is consumed",
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const bus = await EmbeddedBus.open(dir, { compactAfter: 20 });
      try {
        const app2 = collector();
        await bus.subscribe("app2", "Purchase", app2.handler);
        for (let round = 0; round < 10; round++) {
          await Promise.all(
            Array.from({ length: 40 }, (_, i) => bus.send("Purchase", message(`k${round}-${i}`))),
          );
          await waitFor("the round", () => app2.seen.length === 40 * (round + 1));
        }
        // 400 consumed; each partition's file keeps at most its threshold of dead lines.
        assert.ok(await fileLines(dir, "Purchase") <= PARTITIONS * 40, "files were not compacted");
        const more = await bus.send("Purchase", message("after"));
        await waitFor("the message after compaction", () => app2.seen.length === 401);
        assert.equal(app2.seen.at(-1)?.offset, more.offset);
      } finally {
        await bus.close();
      }
    });
  },
});

Deno.test({
  name: "EmbeddedBus: offsets that cannot be written hold the partition and fail ping; it recovers",
  sanitizeOps: false,
  fn: async () => {
    await withBus(async (bus, dir) => {
      const app2 = collector();
      await bus.subscribe("app2", "Purchase", app2.handler);
      await bus.send("Purchase", message("before"));
      await waitFor("the first message", () => app2.seen.length === 1);
      await bus.ping();
      // The offsets file cannot be written: its temporary file's name is taken by a folder.
      await waitFor(
        "the write under way to finish",
        () => Deno.mkdir(`${dir}/offsets.json.tmp`).then(() => true, () => false),
      );
      const key = "stuck";
      await bus.send("Purchase", message(key));
      await waitFor("the message handled", () => app2.seen.length === 2);
      await waitFor("ping to fail", () => bus.ping().then(() => false, () => true));
      await assert.rejects(bus.ping(), /cannot write its offsets/);
      const partition = app2.seen[1].partition;
      await bus.send("Purchase", message(key, "behind it")); // same key: same partition
      await delay(300);
      assert.equal(
        app2.seen.length,
        2,
        "the partition waits while its offsets cannot be written",
      );
      await Deno.remove(`${dir}/offsets.json.tmp`);
      await waitFor("the partition to go on", () => app2.seen.length === 3, 5000);
      await waitFor("ping to recover", () => bus.ping().then(() => true, () => false));
      assert.equal(app2.seen[2].partition, partition);
    });
  },
});
