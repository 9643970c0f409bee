/**
 * The load generator behind `deno task load`: sends messages to app1 at a steady rate (open loop)
 * or from a number of concurrent clients (closed loop), each request a trace of its own (a fresh
 * W3C `traceparent`), then checks that every accepted message landed — the row app3 stored in
 * PostgreSQL for `POST /Message`, the key app4 cached in Redis for `POST /Message/Post-Message` —
 * through app3's and app4's `GET /Message/:id` or in the stores themselves. Landing latency comes
 * from the stored timestamps (`createdAt`, `cachedAt`), so checking late does not distort it.
 *
 * @example
 * ```ts
 * import { formatReport, runLoad } from "./mod.ts";
 * const report = await runLoad({
 *   target: "http://localhost:8001",
 *   rate: 100,
 *   durationMs: 5_000,
 *   path: "both",
 *   landing: { kind: "http", app3: "http://localhost:8003", app4: "http://localhost:8004" },
 * });
 * console.log(formatReport(report));
 * if (report.lost > 0) Deno.exit(1);
 * ```
 * @module
 */
import { createClient } from "@redis/client";
import postgres from "postgres";
import { percentile } from "../bench/stats.ts";

/** Which of app1's two endpoints the load goes to ("both" alternates). */
export type LoadPath = "message" | "post-message" | "both";
/** How long a request of the load may wait for its answer before it is given up (aborted). */
export const REQUEST_DEADLINE_MS = 30_000;

/** One endpoint: `message` lands in PostgreSQL (via app3), `post-message` in Redis (via app4). */
export type Route = "message" | "post-message";

/** Where the generator looks for landed messages. */
export type Landing =
  | { readonly kind: "http"; readonly app3: string; readonly app4: string }
  | { readonly kind: "stores"; readonly databaseUrl: string; readonly redisUrl: string };

/** Options of {@linkcode runLoad}; give `rate` or `concurrency`. */
export interface LoadOptions {
  /** app1's base URL. */
  readonly target: string;
  /** Messages per second, sent on schedule whatever the answers take (open loop). */
  readonly rate?: number;
  /** Clients, each sending its next message when the last was answered (closed loop). */
  readonly concurrency?: number;
  readonly durationMs: number;
  readonly path: LoadPath;
  readonly landing: Landing;
  /** How long after the last send accepted messages may take to land (default 30 s). */
  readonly landingTimeoutMs?: number;
  /** Most requests awaiting an answer in rate mode; the schedule waits beyond it (default 2000). */
  readonly maxInFlight?: number;
  /** Called about twice a second while the load runs and while landings are checked. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Stops sending early; what was accepted is still checked. */
  readonly signal?: AbortSignal;
  /** Put into every message's content, to find the run's rows and keys (default: a uuid). */
  readonly runId?: string;
  /** Called with each message as it is sent (to clean up after a run, say). */
  readonly onSend?: (id: string, route: Route) => void;
  /** Keep every message's record in the report (`messages`), e.g. for fault analysis. */
  readonly keepMessages?: boolean;
  /**
   * Messages accounted for elsewhere (dead-lettered, say) are not waited for: the landing check
   * stops looking for a message once this says true for its id (it still counts as not landed).
   */
  readonly settledElsewhere?: (id: string) => boolean;
}

/** One message as the run saw it (with `keepMessages`). */
export interface MessageRecord {
  readonly id: string;
  readonly route: Route;
  /** Unix milliseconds when the request went out. */
  readonly sentAt: number;
  /** The answer's status, or "error" when there was none (refused, reset, timed out). */
  readonly status: number | "error";
  /** From sending to the answer, or to the failure. */
  readonly settledMs: number;
  /** The Purchase partition app1 published a `post-message` to (from its 202). */
  readonly partition?: number;
  /** Unix milliseconds of the stored timestamp, when it landed. */
  readonly landedAt?: number;
}

/** Where a run is. */
export interface LoadProgress {
  readonly phase: "sending" | "landing" | "done";
  /** False once the last message was sent, while answers are awaited. */
  readonly sending: boolean;
  readonly elapsedMs: number;
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly landed: number;
  /** Accepted messages not (yet) seen in their store. */
  readonly pending: number;
}

/** Latency percentiles in milliseconds (NaN without samples). */
export interface Latency {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
}

/** A message that was accepted and never landed. */
export interface LostMessage {
  readonly id: string;
  readonly route: Route;
  readonly traceId: string;
}

/** Figures of one route, or of the whole run. */
export interface RouteReport {
  readonly sent: number;
  /** Answered 2xx. */
  readonly accepted: number;
  /** Answered with another status. */
  readonly rejected: number;
  /** No answer: connection refused or reset, timeout. */
  readonly failed: number;
  readonly landed: number;
  /** Accepted and not landed within the landing timeout. */
  readonly lost: number;
  readonly acceptLatencyMs: Latency;
  /** From sending the request to the stored timestamp in PostgreSQL or Redis. */
  readonly landingLatencyMs: Latency;
}

/** What {@linkcode runLoad} measured. */
export interface LoadReport extends RouteReport {
  readonly runId: string;
  readonly target: string;
  readonly mode: { readonly rate: number } | { readonly concurrency: number };
  readonly path: LoadPath;
  /** Time spent sending, in seconds (answers to the last requests may come later). */
  readonly sendSeconds: number;
  /**
   * Messages per second: sent over the sending time; accepted from the first send to the last
   * answer; landed from the first send to the last landing (a backlog that drains late lowers it).
   */
  readonly throughput: {
    readonly sent: number;
    readonly accepted: number;
    readonly landed: number;
  };
  /** Answers by status code ("error" for no answer). */
  readonly statuses: Readonly<Record<string, number>>;
  readonly routes: Readonly<Partial<Record<Route, RouteReport>>>;
  /** The first lost messages (at most 20), with the trace to look them up by. */
  readonly lostMessages: readonly LostMessage[];
  /** Every message, with `keepMessages`. */
  readonly messages?: readonly MessageRecord[];
}

interface Sent {
  readonly id: string;
  readonly route: Route;
  readonly traceId: string;
  /** Unix milliseconds (fractional) when the request went out. */
  readonly sentAt: number;
  acceptMs?: number;
  /** From sending to the answer or the failure. */
  settledMs?: number;
  status?: number | "error";
  partition?: number;
  /** Unix milliseconds of the stored timestamp. */
  landedAt?: number;
}

const now = () => performance.timeOrigin + performance.now();

function hex(bytes: number): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const value of values) out += value.toString(16).padStart(2, "0");
  return out;
}

/** Runs the load, then waits for the accepted messages to land; resolves with the report. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { rate, concurrency } = options;
  if ((rate === undefined) === (concurrency === undefined)) {
    throw new Error("give either rate or concurrency");
  }
  if (rate !== undefined && !(rate > 0)) throw new Error("rate must be above 0");
  if (concurrency !== undefined && !(concurrency >= 1)) throw new Error("concurrency must be ≥ 1");
  const target = options.target.replace(/\/+$/, "");
  const runId = options.runId ?? crypto.randomUUID();
  const messages: Sent[] = [];
  const counts = { accepted: 0, rejected: 0, failed: 0, inFlight: 0, landed: 0 };
  const started = performance.now();
  let phase: LoadProgress["phase"] = "sending";
  /** Set when the last message was sent. */
  let sendSeconds = 0;
  const progress = (): LoadProgress => ({
    phase,
    sending: sendSeconds === 0,
    elapsedMs: performance.now() - started,
    sent: messages.length,
    accepted: counts.accepted,
    rejected: counts.rejected,
    failed: counts.failed,
    inFlight: counts.inFlight,
    landed: counts.landed,
    pending: counts.accepted - counts.landed,
  });
  const ticker = options.onProgress
    ? setInterval(() => options.onProgress!(progress()), 500)
    : undefined;

  const sendOne = async (): Promise<void> => {
    const index = messages.length;
    const route: Route = options.path === "both"
      ? (index % 2 === 0 ? "message" : "post-message")
      : options.path;
    const message: Sent = {
      id: crypto.randomUUID(),
      route,
      traceId: hex(16),
      sentAt: now(),
    };
    messages.push(message);
    options.onSend?.(message.id, route);
    counts.inFlight++;
    try {
      const response = await fetch(
        `${target}${route === "message" ? "/Message" : "/Message/Post-Message"}`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            traceparent: `00-${message.traceId}-${hex(8)}-01`,
          },
          body: JSON.stringify({ id: message.id, content: `load ${runId} ${index}` }),
          signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
        },
      );
      if (options.keepMessages && route === "post-message" && response.ok) {
        const body = await response.json().catch(() => ({}));
        if (typeof body.partition === "number") message.partition = body.partition;
      } else await response.body?.cancel();
      message.status = response.status;
      message.acceptMs = now() - message.sentAt;
      if (response.ok) counts.accepted++;
      else counts.rejected++;
    } catch {
      message.status = "error";
      counts.failed++;
    } finally {
      message.settledMs = now() - message.sentAt;
      counts.inFlight--;
    }
  };

  const until = started + options.durationMs;
  const sending = () => performance.now() < until && !options.signal?.aborted;
  const inFlight = new Set<Promise<void>>();
  const track = (promise: Promise<void>) => {
    inFlight.add(promise);
    promise.finally(() => inFlight.delete(promise));
  };
  try {
    if (rate !== undefined) {
      const maxInFlight = options.maxInFlight ?? 2000;
      const interval = 1000 / rate;
      let due = 0;
      while (sending()) {
        // Everything due by now goes out; then sleep until the next one is due.
        const target = Math.floor((performance.now() - started) / interval) + 1;
        while (due < target && inFlight.size < maxInFlight && sending()) {
          track(sendOne());
          due++;
        }
        if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
        else {
          const wait = started + due * interval - performance.now();
          await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
        }
      }
    } else {
      const client = async () => {
        while (sending()) await sendOne();
      };
      await Promise.all(Array.from({ length: concurrency! }, client));
    }
    sendSeconds = (performance.now() - started) / 1000;
    await Promise.all(inFlight);
  } catch (error) {
    clearInterval(ticker);
    throw error;
  }

  phase = "landing";
  const probe = landingProbe(options.landing);
  try {
    const deadline = performance.now() + (options.landingTimeoutMs ?? 30_000);
    let waiting = messages.filter((message) =>
      message.status !== undefined &&
      message.status !== "error" && message.status >= 200 && message.status < 300
    );
    let pause = 50;
    while (waiting.length > 0) {
      for (const route of ["message", "post-message"] as const) {
        const mine = waiting.filter((message) => message.route === route);
        for (let i = 0; i < mine.length; i += 500) {
          const chunk = mine.slice(i, i + 500);
          const landed = await probe.landed(route, chunk.map((message) => message.id));
          for (const message of chunk) {
            const at = landed.get(message.id);
            if (at !== undefined) {
              message.landedAt = at;
              counts.landed++;
            }
          }
        }
      }
      waiting = waiting.filter((message) =>
        message.landedAt === undefined && !options.settledElsewhere?.(message.id)
      );
      if (waiting.length === 0 || performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(1000, pause * 2);
    }
  } finally {
    await probe.close();
    phase = "done";
    clearInterval(ticker);
    options.onProgress?.(progress());
  }
  return report(options, runId, target, messages, sendSeconds);
}

function latency(values: number[]): Latency {
  return {
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: values.length > 0 ? Math.max(...values) : NaN,
    samples: values.length,
  };
}

function routeReport(messages: readonly Sent[]): RouteReport {
  const accepted = messages.filter((m) =>
    typeof m.status === "number" && m.status < 300 &&
    m.status >= 200
  );
  const landed = accepted.filter((m) => m.landedAt !== undefined);
  return {
    sent: messages.length,
    accepted: accepted.length,
    rejected: messages.filter((m) =>
      typeof m.status === "number" && (m.status < 200 ||
        m.status >= 300)
    ).length,
    failed: messages.filter((m) => m.status === "error").length,
    landed: landed.length,
    lost: accepted.length - landed.length,
    acceptLatencyMs: latency(accepted.map((m) => m.acceptMs!)),
    // A stored timestamp has millisecond precision and may read a fraction before the send.
    landingLatencyMs: latency(landed.map((m) => Math.max(0, m.landedAt! - m.sentAt))),
  };
}

function report(
  options: LoadOptions,
  runId: string,
  target: string,
  messages: readonly Sent[],
  sendSeconds: number,
): LoadReport {
  const total = routeReport(messages);
  const routes: Partial<Record<Route, RouteReport>> = {};
  for (const route of ["message", "post-message"] as const) {
    const mine = messages.filter((message) => message.route === route);
    if (mine.length > 0) routes[route] = routeReport(mine);
  }
  const statuses: Record<string, number> = {};
  for (const message of messages) {
    const key = String(message.status ?? "error");
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  const firstSent = messages[0]?.sentAt ?? 0;
  let lastAnswer = -Infinity;
  let lastLanded = -Infinity;
  for (const message of messages) {
    if (message.acceptMs !== undefined) {
      lastAnswer = Math.max(lastAnswer, message.sentAt + message.acceptMs);
    }
    if (message.landedAt !== undefined) lastLanded = Math.max(lastLanded, message.landedAt);
  }
  const perSecond = (count: number, until: number) =>
    count > 0 && until > firstSent ? count / ((until - firstSent) / 1000) : 0;
  return {
    ...total,
    runId,
    target,
    mode: options.rate !== undefined
      ? { rate: options.rate }
      : { concurrency: options.concurrency! },
    path: options.path,
    sendSeconds,
    throughput: {
      sent: sendSeconds > 0 ? total.sent / sendSeconds : 0,
      accepted: perSecond(total.accepted, lastAnswer),
      landed: perSecond(total.landed, lastLanded),
    },
    statuses,
    routes,
    lostMessages: messages
      .filter((message) =>
        typeof message.status === "number" && message.status >= 200 && message.status < 300 &&
        message.landedAt === undefined
      )
      .slice(0, 20)
      .map(({ id, route, traceId }) => ({ id, route, traceId })),
    ...(options.keepMessages
      ? {
        messages: messages.map((message): MessageRecord => ({
          id: message.id,
          route: message.route,
          sentAt: message.sentAt,
          status: message.status ?? "error",
          settledMs: message.settledMs ?? NaN,
          partition: message.partition,
          landedAt: message.landedAt,
        })),
      }
      : {}),
  };
}

/** Finds which messages landed and when. */
interface LandingProbe {
  /** The stored timestamps (Unix ms) of those of `ids` that are there. */
  landed(route: Route, ids: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

function landingProbe(landing: Landing): LandingProbe {
  return landing.kind === "http" ? httpProbe(landing) : storeProbe(landing);
}

/** app3's and app4's `GET /Message/:id`, a bounded number at once. */
function httpProbe(landing: Extract<Landing, { kind: "http" }>): LandingProbe {
  const lookup = async (route: Route, id: string): Promise<number | undefined> => {
    const base = (route === "message" ? landing.app3 : landing.app4).replace(/\/+$/, "");
    try {
      const response = await fetch(`${base}/Message/${id}`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        return undefined;
      }
      const body = await response.json() as { createdAt?: string; cachedAt?: string };
      const stamp = route === "message" ? body.createdAt : body.cachedAt;
      return stamp === undefined ? undefined : Date.parse(stamp);
    } catch {
      return undefined; // not there yet, or the service is busy: asked again later
    }
  };
  return {
    async landed(route, ids) {
      const found = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 32) {
        const chunk = ids.slice(i, i + 32);
        const stamps = await Promise.all(chunk.map((id) => lookup(route, id)));
        chunk.forEach((id, index) => {
          if (stamps[index] !== undefined) found.set(id, stamps[index]!);
        });
      }
      return found;
    },
    close: () => Promise.resolve(),
  };
}

/** PostgreSQL's `messages` table and Redis's `message:<id>` keys, read directly. */
function storeProbe(landing: Extract<Landing, { kind: "stores" }>): LandingProbe {
  const sql = postgres(landing.databaseUrl, { max: 1, onnotice: () => {} });
  const redis = createClient({ url: landing.redisUrl });
  redis.on("error", () => {}); // a failed read is asked again later
  const connected = redis.connect();
  return {
    async landed(route, ids) {
      const found = new Map<string, number>();
      if (route === "message") {
        const rows = await sql<{ id: string; created_at: Date }[]>`
          select id::text as id, created_at from messages where id = any(${ids}::uuid[])`;
        for (const row of rows) found.set(row.id, row.created_at.getTime());
      } else {
        await connected;
        const values = await redis.mGet(ids.map((id) => `message:${id}`));
        values.forEach((value, index) => {
          if (typeof value !== "string") return;
          const cachedAt = (JSON.parse(value) as { cachedAt?: string }).cachedAt;
          if (cachedAt !== undefined) found.set(ids[index], Date.parse(cachedAt));
        });
      }
      return found;
    },
    async close() {
      await sql.end({ timeout: 1 });
      await connected.catch(() => {});
      if (redis.isOpen) redis.destroy();
    },
  };
}

const ms = (value: number) => Number.isFinite(value) ? value.toFixed(1) : "-";
const lat = (l: Latency) =>
  `p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)} ms`;

/** One line for a terminal: where the run is. */
export function formatProgress(p: LoadProgress): string {
  const seconds = (p.elapsedMs / 1000).toFixed(1);
  return p.phase === "sending"
    ? `${seconds}s ${p.sending ? "sending" : "waiting for answers"}: ${p.sent} sent, ` +
      `${p.accepted} accepted, ${p.rejected} rejected, ${p.failed} failed, ${p.inFlight} in flight`
    : `${seconds}s checking landings: ${p.landed} of ${p.accepted} accepted landed`;
}

/** The report as text for people. */
export function formatReport(report: LoadReport): string {
  const mode = "rate" in report.mode
    ? `${report.mode.rate} msg/s`
    : `${report.mode.concurrency} concurrent clients`;
  const lines = [
    `load ${report.runId}: ${mode} for ${
      report.sendSeconds.toFixed(1)
    } s to ${report.target} (${report.path})`,
    `sent ${report.sent}, accepted ${report.accepted}, rejected ${report.rejected}, failed ${report.failed}, ` +
    `landed ${report.landed}, lost ${report.lost}`,
    `throughput: sent ${report.throughput.sent.toFixed(1)}/s, accepted ${
      report.throughput.accepted.toFixed(1)
    }/s, ` +
    `landed ${report.throughput.landed.toFixed(1)}/s`,
    `accept latency   ${lat(report.acceptLatencyMs)}`,
    `landing latency  ${lat(report.landingLatencyMs)}`,
  ];
  for (const [route, figures] of Object.entries(report.routes)) {
    const where = route === "message"
      ? "POST /Message → PostgreSQL"
      : "POST /Message/Post-Message → Redis";
    lines.push(
      `  ${where}: sent ${figures.sent}, accepted ${figures.accepted}, landed ${figures.landed}, lost ${figures.lost}; ` +
        `accept p99 ${ms(figures.acceptLatencyMs.p99)} ms, landing p50 ${
          ms(figures.landingLatencyMs.p50)
        } ` +
        `p99 ${ms(figures.landingLatencyMs.p99)} ms`,
    );
  }
  const statuses = Object.entries(report.statuses).map(([status, count]) => `${status}: ${count}`);
  lines.push(`answers: ${statuses.join(", ") || "none"}`);
  for (const lost of report.lostMessages) {
    lines.push(`  lost ${lost.route} ${lost.id} (trace ${lost.traceId})`);
  }
  return lines.join("\n");
}
