import assert from "node:assert/strict";
import { missingTool, testWhen } from "./_test_needs.ts";
import { delay } from "../testing/wait.ts";
import { FileSync, type FsyncPolicy, type Syncable } from "./file_sync.ts";

function fakeFile(): Syncable & { syncs: number; closed: boolean } {
  const file = {
    syncs: 0,
    closed: false,
    syncData: () => {
      if (file.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
      file.syncs++;
      return Promise.resolve();
    },
    close: () => void (file.closed = true),
  };
  return file;
}

Deno.test("FileSync always: writes of one turn share one sync, done before they are acknowledged", async () => {
  const sync = new FileSync("always");
  const file = fakeFile();
  const acknowledged = Promise.all([sync.wrote(file), sync.wrote(file), sync.wrote(file)]);
  assert.equal(file.syncs, 0);
  await acknowledged;
  assert.equal(file.syncs, 1);
  await sync.wrote(file);
  assert.equal(file.syncs, 2);
  await sync.close();
});

Deno.test("FileSync interval: dirty files are synced on the timer and at close, not per write", async () => {
  const sync = new FileSync("interval", 50);
  const file = fakeFile();
  for (let i = 0; i < 10; i++) await sync.wrote(file);
  assert.equal(file.syncs, 0, "acknowledged without waiting for the disk");
  await delay(120);
  assert.equal(file.syncs, 1, "one sync for everything written since the last");
  await delay(120);
  assert.equal(file.syncs, 1, "a clean file is not synced again");
  await sync.wrote(file);
  await sync.close();
  assert.equal(file.syncs, 2, "close syncs what is dirty");
});

Deno.test("FileSync never: no syncs; retire closes a file once its sync under way is done", async () => {
  const never = new FileSync("never");
  const file = fakeFile();
  await never.wrote(file);
  await never.close();
  assert.equal(file.syncs, 0);
  const always = new FileSync("always");
  const busy = fakeFile();
  const pending = always.wrote(busy);
  always.retire(busy);
  assert.equal(busy.closed, false, "not closed under a pending sync");
  await pending;
  await delay(0);
  assert.equal(busy.closed, true);
  assert.equal(busy.syncs, 1);
  await always.close();
});

/**
 * fdatasync/fsync calls a child process makes writing `count` times, one after the other, to
 * the embedded bus (sends) or the embedded store (SETs).
 */
async function syncCalls(target: "bus" | "store", policy: FsyncPolicy, count: number) {
  const dir = await Deno.makeTempDir();
  try {
    const bus = new URL("./messaging/embedded.ts", import.meta.url).href;
    const store = new URL("./cache/store.ts", import.meta.url).href;
    const script = target === "bus"
      ? `import { EmbeddedBus } from ${JSON.stringify(bus)};
      const bus = await EmbeddedBus.open(${JSON.stringify(dir)}, { fsync: "${policy}" });
      for (let i = 0; i < ${count}; i++) await bus.send("Purchase", { key: "k" + i, value: "v", headers: {} });
      await bus.close();`
      : `import { openEmbeddedStore } from ${JSON.stringify(store)};
      const store = await openEmbeddedStore(${JSON.stringify(dir)}, undefined, "${policy}");
      for (let i = 0; i < ${count}; i++) await store.execute([["SET", "k" + i, "v"]]);
      await store.close();`;
    const { code, stderr } = await new Deno.Command("strace", {
      args: [
        "-f",
        "-c",
        "-U",
        "name,calls",
        "-e",
        "trace=fsync,fdatasync",
        Deno.execPath(),
        "eval",
        script,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const report = new TextDecoder().decode(stderr);
    assert.equal(code, 0, report);
    let calls = 0;
    for (const match of report.matchAll(/^\s*(fsync|fdatasync)\s+(\d+)/gm)) {
      calls += Number(match[2]);
    }
    return calls;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

testWhen(missingTool("strace", "strace"), {
  name:
    "EMBEDDED_FSYNC: always syncs each acknowledged write, interval a few times, never not at all (strace)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    for (const target of ["bus", "store"] as const) {
      const always = await syncCalls(target, "always", 40);
      const interval = await syncCalls(target, "interval", 40);
      const never = await syncCalls(target, "never", 40);
      assert.ok(always >= 40, `${target} always: ${always} syncs for 40 sequential writes`);
      assert.ok(interval >= 1 && interval <= 10, `${target} interval: ${interval} syncs`);
      assert.equal(never, 0, `${target} never: ${never} syncs`);
    }
  },
});
