/**
 * The console's Hono app: the JSON API over a {@linkcode ConsoleReader}, live events over
 * server-sent events, OTLP/HTTP ingest into a {@linkcode ConsoleSink}, the write endpoints of
 * the Functions page, and the pages, mounted by whoever builds them through {@linkcode PageMount}.
 *
 * @example
 * ```ts
 * import { createConsoleApp } from "./app.ts";
 * import { ConsoleStore } from "./store.ts";
 * const store = new ConsoleStore();
 * const app = createConsoleApp({ reader: store, sink: store, loopback: true });
 * const response = await app.request("http://localhost/api/traces");
 * console.log(await response.json()); // { traces: [] }
 * ```
 * @module
 */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { flagRoutes } from "../flags/api.ts";
import type { FlagSource } from "../flags/source.ts";
import { guard } from "./guard.ts";
import { type ConsoleSink, otlpRoutes } from "./ingest.ts";
import type {
  ConsoleEvent,
  ConsoleReader,
  CronRunResult,
  InvokeRequest,
  InvokeResult,
} from "./model.ts";
import { parseLogFilter, parseTraceFilter, QueryError, TRACE_ID } from "./query.ts";

/**
 * Mounts the console's pages on `app`, after the API (so `/api/*` and `/v1/*` stay the API's).
 * The pages read the same {@linkcode ConsoleReader} the API does.
 */
export type PageMount = (app: Hono, reader: ConsoleReader) => void;

/** A failure of an action the caller can act on: an unknown service, a cron already running. */
export class ActionError extends Error {
  constructor(readonly status: 400 | 404 | 409 | 413 | 415 | 502 | 503, message: string) {
    super(message);
    this.name = "ActionError";
  }
}

/** What the Functions page can make the host do. */
export interface ConsoleActions {
  /** Calls an HTTP function of a service the host runs; throws {@linkcode ActionError}. */
  invoke(service: string, request: InvokeRequest): Promise<InvokeResult>;
  /** Starts a run of a cron function now; throws {@linkcode ActionError}. */
  runCron(service: string, name: string): Promise<CronRunResult>;
}

/** Options of {@linkcode createConsoleApp}. */
export interface ConsoleAppOptions {
  readonly reader: ConsoleReader;
  /** Where OTLP ingest puts what it decodes; no `/v1/*` routes without one. */
  readonly sink?: ConsoleSink;
  /** The Functions page's actions; no write endpoints without them. */
  readonly actions?: ConsoleActions;
  readonly pages?: PageMount;
  /** Bound to loopback: requests must name a loopback host (DNS rebinding). */
  readonly loopback: boolean;
  /** Required on every request when set. */
  readonly token?: string;
  /** Largest OTLP request body accepted, in bytes, before and after gunzip (default 16 MiB). */
  readonly maxIngestBytes?: number;
  /** How often an idle event stream gets a keep-alive comment (default 15 s). */
  readonly heartbeatMs?: number;
  /** Ends every open event stream when aborted, so the server can stop without waiting on them. */
  readonly closing?: AbortSignal;
  /** The host's fault flags: `GET /api/flags` and `PUT /api/flags/:name` when given. */
  readonly flags?: FlagSource;
}

/** Builds the app. */
export function createConsoleApp(options: ConsoleAppOptions): Hono {
  const { reader } = options;
  const app = new Hono();
  app.use("*", guard({ loopback: options.loopback, token: options.token }));
  app.onError((error, c) => {
    if (error instanceof QueryError) return c.json({ error: error.message }, 400);
    if (error instanceof ActionError) return c.json({ error: error.message }, error.status);
    return c.json({ error: `console error: ${error.message}` }, 500);
  });

  if (options.sink) app.route("/", otlpRoutes(options.sink, options.maxIngestBytes));

  const params = (c: Context) => new URL(c.req.url).searchParams;
  app.get("/api/traces", (c) => c.json({ traces: reader.traces(parseTraceFilter(params(c))) }));
  app.get("/api/traces/:traceId", (c) => {
    const traceId = c.req.param("traceId");
    if (!TRACE_ID.test(traceId)) {
      return c.json({ error: `trace id ${JSON.stringify(traceId)} must be 32 hex digits` }, 400);
    }
    const detail = reader.trace(traceId.toLowerCase());
    if (!detail) return c.json({ error: `no trace ${traceId} in the console's buffer` }, 404);
    return c.json(detail);
  });
  app.get("/api/logs", (c) => c.json({ logs: reader.logs(parseLogFilter(params(c))) }));
  app.get("/api/graph", (c) => c.json(reader.graph()));
  app.get("/api/metrics", (c) => c.json(reader.metrics()));
  app.get("/api/functions", (c) => c.json(reader.functions()));
  app.get("/api/stats", (c) => c.json(reader.stats()));
  app.get(
    "/api/events",
    (c) => events(c, reader, options.heartbeatMs ?? 15_000, options.closing),
  );

  const actions = options.actions;
  if (actions) {
    app.post("/api/functions/:service/invoke", async (c) => {
      const body = await jsonBody(c);
      return c.json(await actions.invoke(c.req.param("service"), parseInvoke(body)));
    });
    app.post("/api/functions/:service/crons/:name/run", async (c) => {
      await jsonBody(c);
      return c.json(await actions.runCron(c.req.param("service"), c.req.param("name")), 202);
    });
  }
  if (options.flags) app.route("/", flagRoutes(options.flags));
  app.all("/api/*", (c) => c.json({ error: `no API route ${c.req.method} ${c.req.path}` }, 404));

  if (options.pages) {
    options.pages(app, reader);
  } else {
    app.get("/", (c) =>
      c.json({
        console: "otel-functions",
        api: [
          "/api/traces",
          "/api/traces/:traceId",
          "/api/logs",
          "/api/graph",
          "/api/metrics",
          "/api/functions",
          "/api/stats",
          "/api/events",
          ...(options.flags ? ["/api/flags"] : []),
        ],
        otlp: options.sink ? ["/v1/traces", "/v1/logs", "/v1/metrics"] : [],
      }));
  }
  app.notFound((c) => c.json({ error: `not found: ${c.req.method} ${c.req.path}` }, 404));
  return app;
}

/** Server-sent events: one `event: <type>` message per {@linkcode ConsoleEvent}. */
function events(
  c: Context,
  reader: ConsoleReader,
  heartbeatMs: number,
  closing?: AbortSignal,
): Response {
  return streamSSE(c, async (stream) => {
    const queue: ConsoleEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = reader.subscribe((event) => {
      // A reader that cannot keep up loses the oldest events, not the console's memory.
      if (queue.length >= 1000) queue.shift();
      queue.push(event);
      wake?.();
    });
    stream.onAbort(() => {
      unsubscribe();
      wake?.();
    });
    const close = () => wake?.();
    closing?.addEventListener("abort", close);
    try {
      await stream.writeSSE({ event: "stats", data: JSON.stringify(reader.stats()) });
      while (!stream.aborted && !stream.closed && !closing?.aborted) {
        const event = queue.shift();
        if (event) {
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          continue;
        }
        let heartbeat: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          heartbeat = setTimeout(resolve, heartbeatMs);
        });
        // Woken by an event: its heartbeat timer goes, or a busy stream would pile them up.
        clearTimeout(heartbeat);
        wake = undefined;
        if (queue.length === 0 && !stream.aborted && !closing?.aborted) {
          await stream.write(": keep-alive\n\n");
        }
      }
    } finally {
      closing?.removeEventListener("abort", close);
      unsubscribe();
    }
  });
}

/**
 * The body of a write request, which must say `Content-Type: application/json`: a form on
 * another site can send only form types without a preflight, so it cannot reach these.
 */
async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new ActionError(415, "write endpoints need Content-Type: application/json");
  }
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new QueryError("the request body is not valid JSON");
  }
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

function parseInvoke(body: unknown): InvokeRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new QueryError('the body must be a JSON object {"path": "/…", "method"?, "body"?}');
  }
  const { path, method, body: payload } = body as Record<string, unknown>;
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) {
    throw new QueryError('"path" must be the function\'s route, starting with one "/"');
  }
  if (method !== undefined && (typeof method !== "string" || !METHODS.includes(method))) {
    throw new QueryError(`"method" must be one of ${METHODS.join(", ")}`);
  }
  return { path, method: (method as string | undefined) ?? "POST", body: payload };
}
