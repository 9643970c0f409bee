/**
 * The frame every page shares: the header (navigation, buffer stats, live indicator) and the live
 * region whose content the browser swaps in place when the server sends an event.
 * @module
 */
import type { Child } from "hono/jsx";
import type { BufferStats } from "../model.ts";
import { formatCount } from "./_format.ts";

/** The pages, in the order the navigation shows them. */
export const NAV = [
  { id: "traces", href: "/", label: "Traces", key: "t" },
  { id: "graph", href: "/graph", label: "Service graph", key: "g" },
  { id: "logs", href: "/logs", label: "Logs", key: "l" },
  { id: "metrics", href: "/metrics", label: "Metrics", key: "m" },
  { id: "functions", href: "/functions", label: "Functions", key: "f" },
] as const;

/** A page's id in {@linkcode NAV}. */
export type PageId = typeof NAV[number]["id"];

/** The events a live region follows: new or grown traces, log records, metrics. */
export type LiveOn = "trace" | "log" | "metrics" | "any";

/** Buffer stats as the header shows them. */
export function Stats(props: { stats: BufferStats }) {
  const { traces, logs, spans } = props.stats;
  const dropped = traces.dropped + logs.dropped + spans.dropped;
  return (
    <span
      id="stats"
      class="stats"
      title={`traces ${traces.kept} of ${traces.capacity} kept, ${traces.dropped} dropped; spans ${spans.kept} kept, ${spans.dropped} dropped; logs ${logs.kept} of ${logs.capacity} kept, ${logs.dropped} dropped`}
    >
      <span>
        <b>{formatCount(traces.kept)}</b> traces
      </span>
      <span>
        <b>{formatCount(spans.kept)}</b> spans
      </span>
      <span>
        <b>{formatCount(logs.kept)}</b> logs
      </span>
      <span class={dropped > 0 ? "dropped warn" : "dropped"}>
        <b>{formatCount(dropped)}</b> dropped
      </span>
    </span>
  );
}

/** Props of {@linkcode Layout}. */
export interface LayoutProps {
  readonly page: PageId | "trace";
  readonly title: string;
  readonly stats: BufferStats;
  /** The static assets' version, so a changed file is never served stale. */
  readonly assets: string;
  /** Page-specific controls above the live region (filters); not swapped on updates. */
  readonly toolbar?: Child;
  /** What the live region follows; static when absent. */
  readonly live?: LiveOn;
  /** A trace id the live region follows (the Trace page). */
  readonly liveTrace?: string;
  readonly children?: Child;
}

/** The page frame. */
export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{props.title} · console</title>
        <link rel="icon" href={`/static/favicon.svg?v=${props.assets}`} type="image/svg+xml" />
        <link rel="stylesheet" href={`/static/console.css?v=${props.assets}`} />
        <script type="module" src={`/static/console.js?v=${props.assets}`}></script>
      </head>
      <body data-page={props.page}>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/" aria-label="console home">
            <svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
              <circle cx="3" cy="9" r="2.5" />
              <circle cx="15" cy="4" r="2.5" />
              <circle cx="15" cy="14" r="2.5" />
              <path d="M5 8.4 12.6 4.6M5 9.6l7.6 3.8" />
            </svg>
            <span>console</span>
          </a>
          <nav aria-label="pages">
            {NAV.map((item) => (
              <a
                href={item.href}
                aria-current={item.id === props.page ||
                    (props.page === "trace" && item.id === "traces")
                  ? "page"
                  : undefined}
                aria-keyshortcuts={item.key}
                title={`${item.label} (${item.key})`}
              >
                {item.label}
              </a>
            ))}
          </nav>
          <span class="spacer"></span>
          <Stats stats={props.stats} />
          <button
            type="button"
            id="live"
            class="live"
            data-state="connecting"
            aria-pressed="false"
            title="Live updates: click (or press p) to pause"
          >
            <span class="dot" aria-hidden="true"></span>
            <span class="label">connecting</span>
          </button>
        </header>
        {props.toolbar ? <div class="toolbar">{props.toolbar}</div> : null}
        <main
          id="main"
          tabindex={-1}
          data-live={props.live}
          data-trace={props.liveTrace}
        >
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A quiet explanation where a list is empty. */
export function Empty(props: { title: string; children?: Child }) {
  return (
    <div class="empty" role="status">
      <p class="empty-title">{props.title}</p>
      {props.children ? <p class="empty-hint">{props.children}</p> : null}
    </div>
  );
}
