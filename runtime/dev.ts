/**
 * `deno task dev`: runs the host (runtime/main.ts) as a child process and restarts it when a
 * file under runtime/ or functions/ (or deno.json) changes, each time after the host's own
 * clean stop has finished.
 *
 * Deno's `--watch` is not used: on Ctrl-C and before each restart it gives signal handlers 500 ms
 * (`GRACEFUL_SHUTDOWN_TIMEOUT` in deno's cli/util/file_watcher.rs) and then drops the program,
 * which cuts the host's ordered stop short (offsets not committed, telemetry not flushed, the
 * data folder's pid file left for the restarted program, which then refuses its own pid).
 *
 * Ctrl-C reaches the host straight from the terminal (and again through this process, within the
 * host's one-second window, so it counts once); this process waits for the host to finish and
 * exits with its code.
 *
 * @example
 * ```sh
 * deno task dev --service app1,app3
 * ```
 * @module
 */
import { LOG_FORMATS, type LogFormat } from "./config.ts";
import { createLogger } from "./log.ts";

const root = new URL("..", import.meta.url).pathname;
const WATCHED = ["runtime", "functions", "deno.json"].map((path) => `${root}${path}`);
const RELEVANT = /\.(ts|tsx|json)$/;
const DEBOUNCE_MS = 200;
const format = Deno.env.get("LOG_FORMAT")?.trim().toLowerCase() as LogFormat | undefined;
// The host checks LOG_FORMAT and says what is wrong with it; the supervisor only follows it.
const log = createLogger({
  service: "dev",
  level: "info",
  format: format && LOG_FORMATS.includes(format) ? format : undefined,
});

/** The host process while it runs. */
let child: Deno.ChildProcess | undefined;
let restarting = false;
let stopping = false;

function spawn(): Deno.ChildProcess {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}runtime/main.ts`, ...Deno.args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  process.status.then((status) => {
    child = undefined;
    if (stopping) Deno.exit(status.code);
    if (!restarting) {
      log.info("host exited; it starts again on the next file change", { code: status.code });
    }
  });
  return process;
}

/** Passes a stop signal on to the host; this process exits with the host's code. */
function forward(signal: Deno.Signal): void {
  stopping = true;
  if (child === undefined && !restarting) Deno.exit(0);
  try {
    child?.kill(signal);
  } catch {
    // it exited meanwhile
  }
}
Deno.addSignalListener("SIGINT", () => forward("SIGINT"));
Deno.addSignalListener("SIGTERM", () => forward("SIGTERM"));

async function restart(changed: string): Promise<void> {
  log.info("file changed; restarting the host", { path: changed.slice(root.length) });
  restarting = true;
  const running = child;
  if (running) {
    try {
      running.kill("SIGTERM");
    } catch {
      // already gone
    }
    await running.status;
  }
  restarting = false;
  if (!stopping) child = spawn();
}

child = spawn();
let timer: ReturnType<typeof setTimeout> | undefined;
let queue = Promise.resolve();
for await (const event of Deno.watchFs(WATCHED, { recursive: true })) {
  if (event.kind === "access" || event.kind === "other") continue;
  const changed = event.paths.find((path) => RELEVANT.test(path));
  if (changed === undefined) continue;
  clearTimeout(timer);
  timer = setTimeout(() => queue = queue.then(() => restart(changed)), DEBOUNCE_MS);
}
