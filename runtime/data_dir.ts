/**
 * The local data folder of the embedded defaults, owned by one host process at a time: PGlite
 * and the embedded bus cannot be shared between processes, so a second host is refused with a
 * clear message instead of corrupting them.
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
  constructor(dir: string, pid: number) {
    super(
      `${dir} is in use by host process ${pid}. The embedded defaults serve one process: ` +
        `stop it, set DATA_DIR to another folder, or point DATABASE_URL, KAFKA_BROKERS and ` +
        `REDIS_URL at servers that processes can share.`,
    );
    this.name = "DataDirBusyError";
  }
}

/** Whether process `pid` exists: /proc where there is one, else a signal ignored by default. */
function isAlive(pid: number): boolean {
  try {
    Deno.statSync("/proc/self");
  } catch {
    try {
      Deno.kill(pid, "SIGURG");
      return true;
    } catch (error) {
      return error instanceof Deno.errors.PermissionDenied;
    }
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Takes the folder for this process; resolves to a function giving it back. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/host.pid`;
  const token = `${Deno.pid}:${crypto.randomUUID()}`;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      await Deno.writeTextFile(path, token, { createNew: true });
      // An exit that skips the ordered stop (a second Ctrl-C, Deno.exit) still gives it back.
      const releaseAtExit = () => {
        try {
          if (Deno.readTextFileSync(path) === token) Deno.removeSync(path);
        } catch {
          // already gone
        }
      };
      globalThis.addEventListener("unload", releaseAtExit);
      return async () => {
        globalThis.removeEventListener("unload", releaseAtExit);
        const current = await Deno.readTextFile(path).catch(() => "");
        if (current === token) await Deno.remove(path).catch(() => {});
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const stale = await Deno.readTextFile(path).catch(() => undefined);
    if (stale === undefined) continue; // its owner just let go
    const owner = Number(stale.split(":")[0]);
    if (owner > 0 && isAlive(owner)) throw new DataDirBusyError(dir, owner);
    await removeStale(path, stale);
  }
  throw new Error(`could not take ${path}`);
}

/**
 * Removes the pid file a killed host left, if it still holds `stale`. Hosts starting together
 * take turns through a second file, so none removes the one another has just written.
 */
async function removeStale(path: string, stale: string): Promise<void> {
  const turn = `${path}.takeover`;
  try {
    await Deno.writeTextFile(turn, String(Deno.pid), { createNew: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    // Another host is taking over; a turn file older than 10 s belongs to one that died doing so.
    const age = Date.now() -
      ((await Deno.stat(turn).catch(() => undefined))?.mtime?.getTime() ?? 0);
    if (age > 10_000) await Deno.remove(turn).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    return;
  }
  try {
    if (await Deno.readTextFile(path).catch(() => undefined) === stale) await Deno.remove(path);
  } finally {
    await Deno.remove(turn).catch(() => {});
  }
}
