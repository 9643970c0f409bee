import assert from "node:assert/strict";
import { DataDirBusyError, lockDataDir } from "./data_dir.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("lockDataDir: creates the folder and a pid file naming this process", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/nested/data`;
    const release = await lockDataDir(dir);
    const [pid, token] = (await Deno.readTextFile(`${dir}/host.pid`)).split(":");
    assert.equal(Number(pid), Deno.pid);
    assert.match(token, /^[0-9a-f-]{36}$/);
    await release();
    assert.equal(await exists(`${dir}/host.pid`), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lockDataDir: a second lock on the same folder is refused while the first holds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const release = await lockDataDir(dir);
    await assert.rejects(lockDataDir(dir), (error) => {
      assert.ok(error instanceof DataDirBusyError);
      assert.equal(error.name, "DataDirBusyError");
      assert.ok(error.message.includes(`${dir} is in use by host process ${Deno.pid}`));
      assert.ok(error.message.includes("DATA_DIR"));
      return true;
    });
    // The refused attempt left the owner's pid file alone.
    assert.ok((await Deno.readTextFile(`${dir}/host.pid`)).startsWith(`${Deno.pid}:`));
    await release();
    const again = await lockDataDir(dir);
    await again();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: refuses a folder owned by another live process", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    await Deno.writeTextFile(`${dir}/host.pid`, `${child.pid}:someone-else`);
    await assert.rejects(lockDataDir(dir), (error) => {
      assert.ok(error instanceof DataDirBusyError);
      assert.ok(error.message.includes(`host process ${child.pid}`));
      return true;
    });
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: takes over a pid file left by a process that is gone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command("true").spawn();
    await child.status; // exited: its pid names no live process (pids are not reused this fast)
    await Deno.writeTextFile(`${dir}/host.pid`, `${child.pid}:killed-host`);
    const release = await lockDataDir(dir);
    assert.ok((await Deno.readTextFile(`${dir}/host.pid`)).startsWith(`${Deno.pid}:`));
    await release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: takes over an unreadable or empty pid file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const garbage of ["", "not-a-pid", "-5:x", "0:x"]) {
      await Deno.writeTextFile(`${dir}/host.pid`, garbage);
      const release = await lockDataDir(dir);
      assert.ok((await Deno.readTextFile(`${dir}/host.pid`)).startsWith(`${Deno.pid}:`));
      await release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: releasing leaves alone a pid file someone else now owns", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const release = await lockDataDir(dir);
    await Deno.writeTextFile(`${dir}/host.pid`, "12345:new-owner");
    await release();
    assert.equal(await Deno.readTextFile(`${dir}/host.pid`), "12345:new-owner");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "lockDataDir: two hosts taking over the same stale pid file do not both get it",
  fn: async () => {
    for (let round = 0; round < 40; round++) {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(`${dir}/host.pid`, "999999999:killed-host");
        const outcomes = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir)]);
        const owners = outcomes.filter((outcome) => outcome.status === "fulfilled");
        assert.equal(owners.length, 1, `round ${round}: both callers own ${dir}`);
        const refused = outcomes.find((outcome) => outcome.status === "rejected");
        assert.ok(refused?.reason instanceof DataDirBusyError);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test("lockDataDir: a process that exits without releasing (Deno.exit) leaves no pid file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const module = new URL("./data_dir.ts", import.meta.url).href;
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { lockDataDir } from ${JSON.stringify(module)};
         await lockDataDir(${JSON.stringify(dir)});
         Deno.exit(130);`,
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    assert.equal(code, 130);
    assert.equal(await exists(`${dir}/host.pid`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
