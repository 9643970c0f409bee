/**
 * The local data folder of the embedded defaults, owned by one host process at a time: PGlite
 * and the embedded bus cannot be shared between processes, so a second host is refused with a
 * clear message instead of corrupting them. Ownership is an exclusive lock on `host.pid`
 * (`Deno.FsFile.tryLock`), which the system drops when the process dies, however it dies; the
 * file names the owner's pid for the message.
 *
 * @example
 * ```ts
 * import { lockDataDir } from "./data_dir.ts";
 * const release = await lockDataDir(await Deno.makeTempDir());
 * await release();
 * ```
 * @module
 */

/** Thrown when another live host process owns the folder. */
export class DataDirBusyError extends Error {
  constructor(dir: string, pid: string) {
    super(
      `${dir} is in use by host process ${pid || "(unknown)"}. The embedded defaults serve one ` +
        `process: stop it, set DATA_DIR to another folder, or point DATABASE_URL, ` +
        `KAFKA_BROKERS and REDIS_URL at servers that processes can share.`,
    );
    this.name = "DataDirBusyError";
  }
}

/** Takes the folder for this process; resolves to a function giving it back. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/host.pid`;
  for (;;) {
    const file = await Deno.open(path, { read: true, write: true, create: true });
    if (!await file.tryLock(true)) {
      file.close();
      const owner = await Deno.readTextFile(path).catch(() => "");
      throw new DataDirBusyError(dir, owner.trim());
    }
    // A releasing owner may have removed the file we opened: then lock the new one.
    const current = await Deno.stat(path).catch(() => undefined);
    if (current?.ino !== (await file.stat()).ino) {
      file.close();
      continue;
    }
    await file.truncate();
    await file.write(new TextEncoder().encode(String(Deno.pid)));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      globalThis.removeEventListener("unload", release);
      try {
        Deno.removeSync(path); // while locked, so no other owner's file is removed
      } catch {
        // the folder is gone already
      }
      file.close();
    };
    // An exit that skips the ordered stop (a second Ctrl-C, Deno.exit) leaves no file either.
    globalThis.addEventListener("unload", release);
    return () => Promise.resolve(release());
  }
}
