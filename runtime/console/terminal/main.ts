/**
 * `deno task traces`: the latest traces from the console's JSON API as trees with durations;
 * `--follow` prints each new trace once it has settled (over the console's server-sent events);
 * `--json` prints the API's JSON for each trace, one per line.
 *
 *     deno task traces [--url http://localhost:8000] [--limit 5] [--follow] [--json]
 *                      [--service app1] [--name "POST /Message"] [--error] [--min-ms 50]
 *                      [--attr key:value] [--token T]
 *
 * @module
 */
import { declareServices } from "../../service_colors.ts";
import { parseArgs } from "node:util";
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { FunctionsOverview, TraceDetail, TraceListItem } from "../model.ts";
import { renderTrace } from "./tree.ts";

const USAGE = `usage: deno task traces [options]

  --url URL        the console (default http://localhost:8000, or CONSOLE_URL)
  --limit N        how many of the latest traces to print (default 5)
  --follow, -f     then keep printing new traces as they complete
  --json           print the API's JSON of each trace, one per line
  --service NAME   only traces touching this service
  --name TEXT      only traces with a span whose name contains TEXT
  --error          only traces with an error
  --min-ms MS      only traces lasting at least MS milliseconds
  --attr KEY:VALUE only traces with a span carrying this attribute
  --token TOKEN    the console's token (when it is not on loopback)
  --settle-ms MS   with --follow: how long a trace must stay unchanged before it is printed (1000)
  --help           this text`;

/** The parsed command line. */
export interface TracesOptions {
  readonly url: string;
  readonly limit: number;
  readonly follow: boolean;
  readonly json: boolean;
  readonly settleMs: number;
  readonly token?: string;
  /** Filters passed to `GET /api/traces`. */
  readonly query: URLSearchParams;
}

/** Reads the command line; throws a message for the user on bad input. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
): TracesOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string" },
      limit: { type: "string" },
      follow: { type: "boolean", short: "f" },
      json: { type: "boolean" },
      service: { type: "string" },
      name: { type: "string" },
      error: { type: "boolean" },
      "min-ms": { type: "string" },
      attr: { type: "string" },
      token: { type: "string" },
      "settle-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new UsageError(USAGE, 0);
  const number = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw new UsageError(`--${name} ${JSON.stringify(text)} must be a number ≥ ${min}`);
    }
    return value;
  };
  const url = values.url ?? env.CONSOLE_URL ?? "http://localhost:8000";
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  const query = new URLSearchParams();
  if (values.service) query.set("service", values.service);
  if (values.name) query.set("name", values.name);
  if (values.error) query.set("error", "true");
  if (values["min-ms"] !== undefined) {
    query.set("minMs", String(number("min-ms", values["min-ms"], 0, 0)));
  }
  if (values.attr !== undefined) {
    if (!/^[^:]+:/.test(values.attr)) {
      throw new UsageError(`--attr ${JSON.stringify(values.attr)} must be key:value`);
    }
    query.set("attr", values.attr);
  }
  const limit = number("limit", values.limit, 5, 1);
  if (!Number.isInteger(limit)) throw new UsageError("--limit must be a whole number");
  return {
    url: url.replace(/\/+$/, ""),
    limit,
    follow: values.follow ?? false,
    json: values.json ?? false,
    settleMs: number("settle-ms", values["settle-ms"], 1000, 0),
    token: values.token ?? env.CONSOLE_TOKEN,
    query,
  };
}

/** A problem with the command line, said with the exit code to leave with. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** Talks to the console's API. */
export class ConsoleClient {
  constructor(readonly options: TracesOptions) {}

  #headers(): HeadersInit {
    return this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  async #get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const url = `${this.options.url}${path}`;
    let response: Response;
    try {
      response = await fetch(url, { headers: this.#headers(), signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new Error(
        `cannot reach the console at ${this.options.url} (${
          (error as Error).message
        }): is \`deno task dev\` running? Set --url or CONSOLE_URL if it listens elsewhere.`,
      );
    }
    if (!response.ok) {
      const body = await response.text();
      let message = body;
      try {
        message = JSON.parse(body).error ?? body;
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`${url} answered ${response.status}: ${message}`);
    }
    return await response.json() as T;
  }

  /** The latest traces matching the filters, newest first. */
  async latest(limit: number): Promise<TraceListItem[]> {
    const query = new URLSearchParams(this.options.query);
    query.set("limit", String(limit));
    return (await this.#get<{ traces: TraceListItem[] }>(`/api/traces?${query}`)).traces;
  }

  /** The services the console's host runs, in their declared order (callers first). */
  async hostServices(): Promise<string[]> {
    const { functions } = await this.#get<FunctionsOverview>("/api/functions");
    return functions.filter((fn) => fn.source === "host").map((fn) => fn.service);
  }

  /** One trace in full, or undefined when the console no longer holds it. */
  async trace(traceId: string): Promise<TraceDetail | undefined> {
    try {
      return await this.#get<TraceDetail>(`/api/traces/${traceId}`);
    } catch (error) {
      if (String((error as Error).message).includes(" answered 404")) return undefined;
      throw error;
    }
  }

  /** The trace ids of `trace` events, as they come. */
  async *traceEvents(signal: AbortSignal): AsyncGenerator<TraceListItem> {
    const response = await fetch(`${this.options.url}/api/events`, {
      headers: { ...this.#headers(), accept: "text/event-stream" },
      signal,
    }).catch((error) => {
      throw new Error(`cannot reach the console's events at ${this.options.url}: ${error.message}`);
    });
    if (!response.ok || !response.body) {
      throw new Error(`${this.options.url}/api/events answered ${response.status}`);
    }
    const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(
      new EventSourceParserStream(),
    );
    for await (const event of events) {
      if (event.event !== "trace") continue;
      const data = JSON.parse(event.data) as { trace?: TraceListItem };
      if (data.trace) yield data.trace;
    }
  }
}

/** Whether `item` passes the filters the API would apply (for followed traces). */
export function matches(item: TraceListItem, detail: TraceDetail, query: URLSearchParams): boolean {
  const service = query.get("service");
  if (service && !item.services.includes(service)) return false;
  const name = query.get("name");
  if (name && !detail.spans.some((span) => span.name.includes(name))) return false;
  if (query.get("error") === "true" && !item.error) return false;
  const minMs = query.get("minMs");
  if (minMs !== null && item.durationMs < Number(minMs)) return false;
  const attr = query.get("attr");
  if (attr) {
    const at = attr.indexOf(":");
    const key = attr.slice(0, at);
    const value = attr.slice(at + 1);
    if (
      !detail.spans.some((span) => key in span.attributes && String(span.attributes[key]) === value)
    ) {
      return false;
    }
  }
  return true;
}

/** Runs the command; resolves with the exit code. */
export async function run(
  args: string[],
  io: {
    readonly env: Record<string, string | undefined>;
    readonly write: (text: string) => void;
    readonly error: (text: string) => void;
    readonly color: boolean;
    readonly width: number;
    readonly signal?: AbortSignal;
  },
): Promise<number> {
  let options: TracesOptions;
  try {
    options = parseOptions(args, io.env);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? io.write : io.error)(`${error.message}\n`);
      return error.exitCode;
    }
    io.error(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const client = new ConsoleClient(options);
  const print = (detail: TraceDetail) =>
    io.write(
      options.json
        ? `${JSON.stringify(detail)}\n`
        : `${renderTrace(detail, { color: io.color, width: io.width })}\n\n`,
    );
  try {
    const printed = new Set<string>();
    if (io.color) declareServices(await client.hostServices()); // the console's colours
    const latest = await client.latest(options.limit);
    if (latest.length === 0 && !options.follow && !options.json) {
      io.write(
        options.query.size > 0 ? "no trace matches these filters\n" : "no traces yet\n",
      );
    }
    // Oldest first, so the newest ends up next to the prompt.
    for (const item of latest.toReversed()) {
      const detail = await client.trace(item.traceId);
      if (detail) {
        print(detail);
        printed.add(item.traceId);
      }
    }
    if (!options.follow) return 0;
    await follow(
      client,
      options,
      printed,
      print,
      io.signal ?? new AbortController().signal,
      (text) => io.error(text),
    );
    return 0;
  } catch (error) {
    if (io.signal?.aborted) return 0;
    io.error(`${(error as Error).message}\n`);
    return 1;
  }
}

/**
 * Prints each new trace once no event has changed it for `settleMs`. A console that goes away
 * (a restart of `deno task dev`) is waited for, as `tail -F` waits for its file.
 */
async function follow(
  client: ConsoleClient,
  options: TracesOptions,
  printed: Set<string>,
  print: (detail: TraceDetail) => void,
  signal: AbortSignal,
  warn: (text: string) => void,
): Promise<void> {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let failure: Error | undefined;
  const settle = async (item: TraceListItem) => {
    timers.delete(item.traceId);
    if (printed.has(item.traceId)) return;
    try {
      const detail = await client.trace(item.traceId);
      if (!detail || !matches(item, detail, options.query)) return;
      printed.add(item.traceId);
      print(detail);
    } catch (error) {
      failure = error as Error;
    }
  };
  let waiting = false;
  try {
    while (!signal.aborted) {
      try {
        for await (const item of client.traceEvents(signal)) {
          if (waiting) warn("console is back\n");
          waiting = false;
          if (failure) throw failure;
          if (printed.has(item.traceId)) continue;
          clearTimeout(timers.get(item.traceId));
          timers.set(item.traceId, setTimeout(() => settle(item), options.settleMs));
        }
      } catch (error) {
        if (signal.aborted || error === failure) throw error;
        if (!waiting) warn(`${(error as Error).message}; waiting for it to come back\n`);
        waiting = true;
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    for (const timer of timers.values()) clearTimeout(timer);
  }
}

function writeAll(stream: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  const controller = new AbortController();
  Deno.addSignalListener("SIGINT", () => controller.abort());
  let width = 120;
  try {
    width = Deno.consoleSize().columns;
  } catch {
    // not a terminal: keep 120 columns
  }
  const code = await run(Deno.args, {
    env: Deno.env.toObject(),
    write: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    error: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    color: Deno.stdout.isTerminal() && !Deno.noColor,
    width,
    signal: controller.signal,
  });
  Deno.exit(code);
}
