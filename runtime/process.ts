/**
 * How the host process meets the operating system: the stop signals and stray promise
 * rejections.
 *
 * Ctrl-C in a terminal reaches the host twice within a millisecond or so: the terminal sends
 * SIGINT to the whole foreground process group, and `deno task` forwards the SIGINT it got to
 * its child as well. Signals that close to the first are the same request and start one clean
 * stop; only a signal after {@linkcode REPEAT_WINDOW_MS} (a deliberate second Ctrl-C) exits at
 * once.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * import { handleStopSignals } from "./process.ts";
 * const log = createLogger({ service: "host", level: "info" });
 * const remove = handleStopSignals({ log, stop: () => Promise.resolve(), exit: Deno.exit });
 * remove();
 * ```
 * @module
 */
import { errorType } from "./errors.ts";
import type { Logger } from "./function.ts";

/** Signals closer than this to the first stop signal are the same request. */
export const REPEAT_WINDOW_MS = 1000;

/** Options of {@linkcode handleStopSignals}. */
export interface StopSignalOptions {
  readonly log: Logger;
  /** The clean stop; the process exits 0 when it resolves, 1 when it rejects. */
  stop(): Promise<void>;
  exit(code: number): void;
  readonly signals?: readonly Deno.Signal[];
  readonly repeatWindowMs?: number;
  /** Registers a listener; `Deno.addSignalListener` by default. Returns its removal. */
  listen?(signal: Deno.Signal, handler: () => void): () => void;
  /** A monotonic clock in milliseconds; `performance.now` by default. */
  now?(): number;
}

/**
 * Stops cleanly on the first SIGINT or SIGTERM, ignores repeats within the window, and exits
 * with 130 on a signal after it. Returns a function that removes the listeners.
 */
export function handleStopSignals(options: StopSignalOptions): () => void {
  const {
    log,
    exit,
    signals = ["SIGINT", "SIGTERM"],
    repeatWindowMs = REPEAT_WINDOW_MS,
    now = () => performance.now(),
  } = options;
  const listen = options.listen ?? ((signal: Deno.Signal, handler: () => void) => {
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  let firstAt: number | undefined;
  const onSignal = (signal: Deno.Signal) => {
    const at = now();
    if (firstAt === undefined) {
      firstAt = at;
      log.info("stop requested", {
        signal,
        hint: signal === "SIGINT" ? "press Ctrl-C again to exit without finishing" : undefined,
      });
      options.stop().then(() => exit(0), (error) => {
        log.error("stop failed", { error: error instanceof Error ? error : String(error) });
        exit(1);
      });
      return;
    }
    if (at - firstAt < repeatWindowMs) return; // the same request, delivered twice
    log.warn("second stop signal: exiting without finishing the stop", { signal });
    exit(130);
  };
  const removals = signals.map((signal) => listen(signal, () => onSignal(signal)));
  return () => removals.forEach((remove) => remove());
}

/**
 * Logs a promise rejection nobody handled, with the error's type and message (cut to 500
 * characters like every logged error, never its stack), and keeps the process running: a stray
 * rejection in a client library must not take every service down with it.
 */
export function reportUnhandledRejections(log: Logger): (event: PromiseRejectionEvent) => void {
  return (event) => {
    event.preventDefault();
    const reason = event.reason;
    log.error("unhandled promise rejection", {
      error_type: errorType(reason),
      error: reason instanceof Error
        ? reason
        : { type: typeof reason, message: describe(reason).slice(0, 500) },
    });
  };
}

function describe(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
