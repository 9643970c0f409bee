/**
 * The pages' routes: each renders its page in full, or only its live region when the script asks
 * for a fragment; the static assets are served with a content hash in their URL.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { ConsoleReader } from "../model.ts";
import { Layout, type LayoutProps, Stats } from "./_layout.tsx";
import { FunctionsView } from "./functions.tsx";
import { GraphView } from "./graph.tsx";
import { LOG_FILTER_FIELDS, logFilterFromQuery, LogFilters, LogList } from "./logs.tsx";
import { MetricsView } from "./metrics.tsx";
import { TraceMissing, TraceView } from "./trace.tsx";
import {
  knownServices,
  TRACE_FILTER_FIELDS,
  traceFilterFromQuery,
  TraceFilters,
  TraceList,
} from "./traces.tsx";

/** Options of {@linkcode createConsolePages}. */
export interface PagesOptions {
  /** The fault-flags panel of the Functions page, when a flag provider is mounted. */
  readonly flagsPanel?: () => Child;
  /** The clock (tests pin it). */
  readonly now?: () => number;
}

const FRAGMENT_HEADER = "x-console-fragment";

interface Asset {
  readonly body: Uint8Array;
  readonly type: string;
}

const ASSET_FILES: Record<string, string> = {
  "console.css": "text/css; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
  "format.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

/** The static files, read once, and a version that changes when any of them does. */
async function loadAssets(): Promise<{ files: Map<string, Asset>; version: string }> {
  const files = new Map<string, Asset>();
  const all: Uint8Array[] = [];
  for (const [name, type] of Object.entries(ASSET_FILES)) {
    const body = await Deno.readFile(new URL(`./static/${name}`, import.meta.url));
    files.set(name, { body, type });
    all.push(body);
  }
  const joined = new Uint8Array(all.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of all) {
    joined.set(part, offset);
    offset += part.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  const version = [...digest.slice(0, 6)].map((byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
  return { files, version };
}

/** The console's pages over `reader`, as a Hono app to mount at the console's root. */
export function createConsolePages(reader: ConsoleReader, options: PagesOptions = {}): Hono {
  const now = options.now ?? Date.now;
  let assets: ReturnType<typeof loadAssets> | undefined;
  const getAssets = () => assets ??= loadAssets();
  const app = new Hono();

  /** Renders the full page, or the live region alone for the script. */
  const render = async (
    c: Context,
    props: Omit<LayoutProps, "stats" | "assets" | "children">,
    body: Child,
    status: 200 | 404 = 200,
  ) => {
    c.header("cache-control", "no-store");
    c.header("vary", FRAGMENT_HEADER);
    const stats = reader.stats();
    if (c.req.header(FRAGMENT_HEADER) === "main") {
      return c.html(
        <>
          {body}
          <template id="stats-next">
            <Stats stats={stats} />
          </template>
        </>,
        status,
      );
    }
    const { version } = await getAssets();
    return c.html(
      "<!doctype html>" +
        (
          <Layout {...props} stats={stats} assets={version}>
            {body}
          </Layout>
        ),
      status,
    );
  };

  app.get("/", (c) => {
    const query = new URL(c.req.url).searchParams;
    const { filter, problems } = traceFilterFromQuery(query);
    const traces = reader.traces(filter);
    const filtered = TRACE_FILTER_FIELDS.some((name) => query.get(name));
    const services = knownServices(
      reader,
      reader.graph().nodes.filter((node) => node.type === "service").map((node) => node.id),
    );
    return render(c, {
      page: "traces",
      title: "Traces",
      live: "trace",
      toolbar: <TraceFilters query={query} services={services} problems={problems} />,
    }, <TraceList traces={traces} filtered={filtered} now={now()} />);
  });

  app.get("/traces/:traceId", (c) => {
    const traceId = c.req.param("traceId").toLowerCase();
    const trace = reader.trace(traceId);
    const selected = c.req.query("span") ?? undefined;
    return render(
      c,
      {
        page: "trace",
        title: trace ? `Trace ${traceId.slice(0, 8)}` : "Trace",
        live: "trace",
        liveTrace: traceId,
      },
      trace ? <TraceView trace={trace} selected={selected} /> : <TraceMissing traceId={traceId} />,
      trace ? 200 : 404,
    );
  });

  app.get(
    "/graph",
    (c) =>
      render(
        c,
        { page: "graph", title: "Service graph", live: "trace" },
        <GraphView graph={reader.graph()} />,
      ),
  );

  app.get("/logs", (c) => {
    const query = new URL(c.req.url).searchParams;
    const { filter, problems } = logFilterFromQuery(query);
    const logs = reader.logs(filter);
    const filtered = LOG_FILTER_FIELDS.some((name) => query.get(name));
    const services = knownServices(reader, []);
    return render(c, {
      page: "logs",
      title: "Logs",
      live: "log",
      toolbar: <LogFilters query={query} services={services} problems={problems} />,
    }, <LogList logs={logs} filtered={filtered} />);
  });

  app.get(
    "/metrics",
    (c) =>
      render(
        c,
        { page: "metrics", title: "Metrics", live: "metrics" },
        <MetricsView metrics={reader.metrics()} now={now()} />,
      ),
  );

  app.get("/functions", (c) =>
    render(
      c,
      { page: "functions", title: "Functions", live: "any" },
      <FunctionsView overview={reader.functions()} now={now()} flags={options.flagsPanel?.()} />,
    ));

  app.get("/static/:name", async (c) => {
    const { files, version } = await getAssets();
    const asset = files.get(c.req.param("name"));
    if (!asset) return c.json({ error: `no static file ${c.req.param("name")}` }, 404);
    const versioned = c.req.query("v") === version;
    return c.body(asset.body.slice(), 200, {
      "content-type": asset.type,
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    });
  });

  return app;
}
