import assert from "node:assert/strict";
import { DataDirBusyError, lockDataDir } from "./data_dir.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Runs `code` in another Deno process with `lockDataDir` imported. */
function otherProcess(code: string, stdout: "piped" | "null" = "null"): Deno.ChildProcess {
  const module = new URL("./data_dir.ts", import.meta.url).href;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", `import { lockDataDir } from ${JSON.stringify(module)};\n${code}`],
    stdout,
    stderr: "inherit",
  }).spawn();
}

Deno.test("lockDataDir: creates the folder and a pid file naming this process", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/nested/data`;
    const release = await lockDataDir(dir);
    assert.equal(await Deno.readTextFile(`${dir}/host.pid`), String(Deno.pid));
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
    assert.equal(await Deno.readTextFile(`${dir}/host.pid`), String(Deno.pid), "left alone");
    await release();
    const again = await lockDataDir(dir);
    await again();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: refuses a folder another live process holds, takes it once that one is killed", async () => {
  const dir = await Deno.makeTempDir();
  const child = otherProcess(
    `await lockDataDir(${
      JSON.stringify(dir)
    }); console.log("locked"); setTimeout(() => {}, 60_000);`,
    "piped",
  );
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /locked/);
    reader.releaseLock();
    await assert.rejects(lockDataDir(dir), (error) => {
      assert.ok(error instanceof DataDirBusyError);
      assert.ok(error.message.includes(`host process ${child.pid}`), error.message);
      return true;
    });
    child.kill("SIGKILL"); // no chance to clean up: the pid file stays, the lock goes
    await child.status;
    assert.equal(await Deno.readTextFile(`${dir}/host.pid`), String(child.pid));
    const release = await lockDataDir(dir);
    assert.equal(await Deno.readTextFile(`${dir}/host.pid`), String(Deno.pid));
    await release();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.stdout.cancel().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: takes over a pid file nobody holds, whatever it says", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const leftover of ["", "not-a-pid", "999999999:killed-host", String(Deno.pid)]) {
      await Deno.writeTextFile(`${dir}/host.pid`, leftover);
      const release = await lockDataDir(dir);
      assert.equal(await Deno.readTextFile(`${dir}/host.pid`), String(Deno.pid));
      await release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockDataDir: of many takers at once, exactly one gets the folder", async () => {
  for (let round = 0; round < 20; round++) {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/host.pid`, "999999999");
      const outcomes = await Promise.allSettled([1, 2, 3].map(() => lockDataDir(dir)));
      const owners = outcomes.filter((outcome) => outcome.status === "fulfilled");
      assert.equal(owners.length, 1, `round ${round}: ${owners.length} callers own ${dir}`);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") assert.ok(outcome.reason instanceof DataDirBusyError);
      }
      await (owners[0] as PromiseFulfilledResult<() => Promise<void>>).value();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("lockDataDir: a process that exits without releasing (Deno.exit) leaves no pid file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { code } = await otherProcess(
      `await lockDataDir(${JSON.stringify(dir)}); Deno.exit(130);`,
    ).output();
    assert.equal(code, 130);
    assert.equal(await exists(`${dir}/host.pid`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
