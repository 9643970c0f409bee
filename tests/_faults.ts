/**
 * Fault injection for the reliability tests: a TCP proxy that can refuse or blackhole
 * connections (a server going down, or a network swallowing packets), a dedicated librdkafka
 * mock cluster that can be frozen (SIGSTOP) and thawed, the host as a child process that can be
 * killed, and a load generator that remembers which messages were accepted.
 *
 * @example
 * ```ts
 * import { TcpProxy } from "./_faults.ts";
 * const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: 5432 });
 * await proxy.cut("refuse");
 * await proxy.restore();
 * await proxy.stop();
 * ```
 * @module
 */
import { freePort } from "../testing/port.ts";

/** How a cut proxy behaves: refuse connections, or accept them and never answer. */
export type CutMode = "refuse" | "blackhole";

/** A TCP proxy in front of a server, to take the server away and give it back. */
export class TcpProxy {
  readonly #target: { hostname: string; port: number };
  readonly #connections = new Set<Deno.Conn>();
  #listener: Deno.Listener | undefined;
  #mode: CutMode | undefined;
  #port = 0;

  private constructor(target: { hostname: string; port: number }) {
    this.#target = target;
  }

  /** Starts forwarding an ephemeral local port to `target`. */
  static start(target: { hostname: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    proxy.#listen();
    return Promise.resolve(proxy);
  }

  get port(): number {
    return this.#port;
  }

  /** Drops every connection; then refuses new ones, or accepts them and stays silent. */
  cut(mode: CutMode = "refuse"): Promise<void> {
    this.#mode = mode;
    this.#closeAll();
    if (mode === "refuse") {
      this.#listener?.close();
      this.#listener = undefined;
    }
    return Promise.resolve();
  }

  /** Forwards again, on the same port. */
  restore(): Promise<void> {
    this.#mode = undefined;
    this.#closeAll();
    if (this.#listener === undefined) this.#listen();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    this.#closeAll();
    return Promise.resolve();
  }

  #listen(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.#port });
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#listener = listener;
    (async () => {
      try {
        for await (const client of listener) this.#serve(client);
      } catch {
        // closed by cut() or stop()
      }
    })();
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#connections.add(client);
    if (this.#mode === "blackhole") return; // held open, never answered, closed on restore
    let server: Deno.Conn;
    try {
      server = await Deno.connect(this.#target);
    } catch {
      this.#drop(client);
      return;
    }
    this.#connections.add(server);
    const pipe = (from: Deno.Conn, to: Deno.Conn) =>
      from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
        this.#drop(from);
        this.#drop(to);
      });
    pipe(client, server);
    pipe(server, client);
  }

  #drop(connection: Deno.Conn): void {
    this.#connections.delete(connection);
    try {
      connection.close();
    } catch {
      // already closed
    }
  }

  #closeAll(): void {
    for (const connection of [...this.#connections]) this.#drop(connection);
  }
}

/** The host run as `deno run -A runtime/main.ts`, with its stdout log lines kept. */
export class HostProcess {
  readonly lines: string[] = [];
  readonly pid: number;
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly urls: { app1: string; app2: string; app3: string; app4: string; executor: string };

  readonly #services: readonly string[] | undefined;

  private constructor(
    child: Deno.ChildProcess,
    ports: Record<string, string>,
    services?: readonly string[],
  ) {
    this.#child = child;
    this.#services = services;
    this.pid = child.pid;
    this.exited = child.status;
    const url = (name: string) => `http://127.0.0.1:${ports[`${name}_PORT`]}`;
    this.urls = {
      app1: url("APP1"),
      app2: url("APP2"),
      app3: url("APP3"),
      app4: url("APP4"),
      executor: url("EXECUTOR"),
    };
    (async () => {
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of child.stdout) {
        rest += decoder.decode(chunk);
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        this.lines.push(...parts);
      }
    })();
  }

  /** Free ports for every service, as the env variables the host reads. */
  static ports(): Record<string, string> {
    return Object.fromEntries(
      ["APP1_PORT", "APP2_PORT", "APP3_PORT", "APP4_PORT", "EXECUTOR_PORT"].map((name) => [
        name,
        String(freePort()),
      ]),
    );
  }

  /**
   * Starts the host with exactly `env` (plus PATH and HOME) and waits until it is ready; with
   * `services`, runs only those (`--service`) and waits for them.
   */
  static async start(
    env: Record<string, string>,
    options: { services?: readonly string[] } = {},
  ): Promise<HostProcess> {
    const ports = {
      APP1_PORT: env.APP1_PORT,
      APP2_PORT: env.APP2_PORT,
      APP3_PORT: env.APP3_PORT,
      APP4_PORT: env.APP4_PORT,
      EXECUTOR_PORT: env.EXECUTOR_PORT,
    };
    const args = ["run", "-A", new URL("../runtime/main.ts", import.meta.url).pathname];
    if (options.services) args.push("--service", options.services.join(","));
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
        CONSOLE_PORT: "0",
        ...env,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const host = new HostProcess(child, ports, options.services);
    await host.waitReady();
    return host;
  }

  /** Resolves when every service it runs says ready at `/readyz`. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const urls = Object.entries(this.urls)
      .filter(([name]) => this.#services === undefined || this.#services.includes(name))
      .map(([, url]) => url);
    while (Date.now() < until) {
      const states = await Promise.all(
        urls.map((url) =>
          fetch(`${url}/readyz`).then(async (r) => {
            await r.body?.cancel();
            return r.status === 200;
          }, () => false)
        ),
      );
      if (states.every(Boolean)) return;
      const status = await Promise.race([this.exited, new Promise((r) => setTimeout(r, 200))]);
      if (status) throw new Error(`the host exited while starting: ${JSON.stringify(status)}`);
    }
    throw new Error("the host did not become ready");
  }

  /** Sends `signal` to the host. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Log records (parsed) with `message`. */
  records(message: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.includes(`"message":"${message}"`)).map((line) =>
      JSON.parse(line)
    );
  }
}

/** The two paths a message can take into the flow, by the endpoint that accepts it. */
export type FlowPath = "/Message" | "/Message/Post-Message";

/** What a load run sent and what came back. */
export interface LoadReport {
  readonly sent: number;
  /** Message ids answered 2xx, by path: these must all land. */
  readonly accepted: Record<FlowPath, string[]>;
  /** Answers by status code, network errors as "error". */
  readonly statuses: Record<string, number>;
  /** The same, per path. */
  readonly byPath: Record<FlowPath, Record<string, number>>;
}

/**
 * Clients posting new messages (with their own ids) to app1 as fast as it answers, half of them
 * on each path, so a slow path does not hold up the other. A request that failed is not
 * retried: its message was not accepted.
 */
export class Load {
  readonly #accepted: Record<FlowPath, string[]> = { "/Message": [], "/Message/Post-Message": [] };
  readonly #statuses: Record<string, number> = {};
  readonly #byPath: Record<FlowPath, Record<string, number>> = {
    "/Message": {},
    "/Message/Post-Message": {},
  };
  #sent = 0;
  #running = true;
  readonly #clients: Promise<void>[];

  constructor(app1: string, concurrency = 8, pauseMs = 10) {
    this.#clients = Array.from({ length: concurrency }, async (_, client) => {
      for (let i = 0; this.#running; i++) {
        const path: FlowPath = client % 2 === 0 ? "/Message" : "/Message/Post-Message";
        const id = crypto.randomUUID();
        this.#sent++;
        let status = "error";
        try {
          const response = await fetch(`${app1}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ id, content: `load ${client}/${i}` }),
            signal: AbortSignal.timeout(20_000),
          });
          await response.body?.cancel();
          status = String(response.status);
          if (response.ok) this.#accepted[path].push(id);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        this.#statuses[status] = (this.#statuses[status] ?? 0) + 1;
        this.#byPath[path][status] = (this.#byPath[path][status] ?? 0) + 1;
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    });
  }

  /** What was sent and accepted so far. */
  get report(): LoadReport {
    return {
      sent: this.#sent,
      accepted: {
        "/Message": [...this.#accepted["/Message"]],
        "/Message/Post-Message": [...this.#accepted["/Message/Post-Message"]],
      },
      statuses: { ...this.#statuses },
      byPath: {
        "/Message": { ...this.#byPath["/Message"] },
        "/Message/Post-Message": { ...this.#byPath["/Message/Post-Message"] },
      },
    };
  }

  /** Stops the clients after their current request. */
  async stop(): Promise<LoadReport> {
    this.#running = false;
    await Promise.all(this.#clients);
    return this.report;
  }
}
