/**
 * A redis-server of the test's own (Debian's `redis-server`): loopback only, on a free port, no
 * persistence, a password when asked; tests that stop Redis or change its settings use one so
 * the shared Redis is never touched.
 *
 * @example
 * ```ts
 * import { PrivateRedis } from "./redis_server.ts";
 * const redis = await PrivateRedis.start({ password: "p@ss" });
 * console.log(redis.url); // redis://:p%40ss@127.0.0.1:PORT
 * await redis.stop();
 * ```
 * @module
 */
import { freePort } from "./port.ts";
import { waitFor } from "./wait.ts";

/** Options of {@linkcode PrivateRedis.start}. */
export interface PrivateRedisOptions {
  /** `requirepass`: clients must log in with it. */
  readonly password?: string;
}

/** A private redis-server; stop it (and restart it, on the same port) at will. */
export class PrivateRedis {
  #child: Deno.ChildProcess | undefined;

  private constructor(readonly port: number, readonly password: string | undefined) {}

  /** Starts one and waits until it accepts connections (a port taken meanwhile: another one). */
  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    for (let attempt = 1;; attempt++) {
      const redis = new PrivateRedis(freePort(), options.password);
      if (await redis.#spawn()) return redis;
      if (attempt === 3) throw new Error("redis-server did not start (see its output above)");
    }
  }

  /** `redis://[:password@]127.0.0.1:port`, for `REDIS_URL` or a client. */
  get url(): string {
    const login = this.password === undefined ? "" : `:${encodeURIComponent(this.password)}@`;
    return `redis://${login}127.0.0.1:${this.port}`;
  }

  /** Starts it again on its port, after {@linkcode stop}. */
  async restart(): Promise<void> {
    if (!await this.#spawn()) {
      throw new Error(`redis-server could not listen on ${this.port} again`);
    }
  }

  /** Kills it (SIGKILL: no goodbye to its clients) and waits until it has exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    child.kill("SIGKILL");
    await child.status;
  }

  /** Spawns the server; false when it exited before listening (its port was taken). */
  async #spawn(): Promise<boolean> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    if (this.password !== undefined) args.push("--requirepass", this.password);
    const child = new Deno.Command("redis-server", { args, stdout: "null" }).spawn();
    let exited = false;
    child.status.then(() => exited = true);
    try {
      await waitFor("redis-server to listen", async () => {
        if (exited) return true;
        (await Deno.connect({ hostname: "127.0.0.1", port: this.port })).close();
        return true;
      });
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      throw error;
    }
    if (exited) return false;
    this.#child = child;
    return true;
  }
}
