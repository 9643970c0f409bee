/**
 * `deno task load`: puts load on a running host and says what happened to every message.
 *
 * ```sh
 * deno task load --rate 200 --duration 30s                  # 200 messages/s, both paths
 * deno task load --concurrency 16 --path post-message --duration 1m
 * deno task load --rate 1000 --redis-url redis://127.0.0.1:6379 \
 *   --database-url postgres://postgres@127.0.0.1:5432/postgres   # check the stores directly
 * deno task load --rate 50 --duration 10s --json > report.json
 * ```
 *
 * Exit status: 0 when every accepted message landed, 1 when any was lost, 2 for bad arguments.
 * @module
 */
import { parseArgs } from "node:util";
import { formatProgress, formatReport, type Landing, type LoadPath, runLoad } from "./mod.ts";

const USAGE =
  `usage: deno task load [--rate N | --concurrency N] [--duration 30s] [--path message|post-message|both]
  [--target http://localhost:8001] [--app3 URL] [--app4 URL] [--database-url URL --redis-url URL]
  [--landing-timeout 30s] [--json]

  --rate N           messages per second, on schedule (open loop)
  --concurrency N    N clients, each sending when its last message was answered (default 8)
  --duration D       how long to send: 500ms, 30s, 2m (default 10s)
  --path P           message (app1 → app3 → PostgreSQL), post-message (app1 → Kafka → … → Redis),
                     or both, alternating (default)
  --target URL       app1 (default http://localhost:8001)
  --app3, --app4     where to check landings (default: the target's host, its port + 2 and + 3,
                     as app3 and app4 are laid out: 8003 and 8004 for 8001)
  --database-url, --redis-url
                     check landings in PostgreSQL and Redis directly instead (both needed)
  --landing-timeout  how long accepted messages may take to land after the last send (default 30s)
  --json             print the report as JSON (no progress line)`;

/** `500ms`, `30s`, `2m` or plain seconds, in milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  return match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1000;
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a number above 0`);
  return value;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        rate: { type: "string" },
        concurrency: { type: "string" },
        duration: { type: "string", default: "10s" },
        path: { type: "string", default: "both" },
        target: { type: "string", default: "http://localhost:8001" },
        app3: { type: "string" },
        app4: { type: "string" },
        "database-url": { type: "string" },
        "redis-url": { type: "string" },
        "landing-timeout": { type: "string", default: "30s" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const rate = positive("rate", values.rate);
  let concurrency = positive("concurrency", values.concurrency);
  if (rate !== undefined && concurrency !== undefined) {
    fail("give --rate or --concurrency, not both");
  }
  if (rate === undefined && concurrency === undefined) concurrency = 8;
  if (concurrency !== undefined && !Number.isInteger(concurrency)) {
    fail("--concurrency must be a whole number");
  }
  const durationMs = parseDuration(values.duration!);
  if (durationMs === undefined || durationMs <= 0) {
    fail(`--duration ${values.duration} is not a duration`);
  }
  const landingTimeoutMs = parseDuration(values["landing-timeout"]!);
  if (landingTimeoutMs === undefined) {
    fail(`--landing-timeout ${values["landing-timeout"]} is not a duration`);
  }
  const path = values.path as LoadPath;
  if (!["message", "post-message", "both"].includes(path)) {
    fail("--path must be message, post-message or both");
  }
  let target: URL;
  try {
    target = new URL(values.target!);
  } catch {
    fail(`--target ${values.target} is not a URL`);
  }
  const databaseUrl = values["database-url"];
  const redisUrl = values["redis-url"];
  if ((databaseUrl === undefined) !== (redisUrl === undefined)) {
    fail("--database-url and --redis-url go together");
  }
  // app3 and app4 listen two and three ports above app1 (8003, 8004 for 8001).
  const sibling = (offset: number) => {
    const url = new URL(target);
    url.port = String(Number(url.port || (url.protocol === "https:" ? 443 : 80)) + offset);
    url.pathname = "";
    return url.toString().replace(/\/$/, "");
  };
  const landing: Landing = databaseUrl && redisUrl
    ? { kind: "stores", databaseUrl, redisUrl }
    : { kind: "http", app3: values.app3 ?? sibling(2), app4: values.app4 ?? sibling(3) };

  const live = !values.json && Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const controller = new AbortController();
  Deno.addSignalListener("SIGINT", () => controller.abort());
  const report = await runLoad({
    target: target.toString(),
    rate,
    concurrency,
    durationMs,
    path,
    landing,
    landingTimeoutMs,
    signal: controller.signal,
    onProgress: live
      ? (progress) => {
        const line = formatProgress(progress);
        Deno.stderr.writeSync(
          encoder.encode(`\r\x1b[2K${line}${progress.phase === "done" ? "\n" : ""}`),
        );
      }
      : undefined,
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.lost > 0) Deno.exit(1);
}

if (import.meta.main) await main();
