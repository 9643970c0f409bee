/**
 * Real Prometheus and Alertmanager for tests, configured from the stack's own files: the shipped
 * rule files with their durations compressed (minutes become seconds), the shipped Alertmanager
 * routing with its receivers pointed at the test's webhook, and Prometheus scraping the test
 * host's services the way `prometheus/prometheus.yml` scrapes the real ones.
 *
 * @example
 * ```ts
 * import { compressDurations } from "./_alerting.ts";
 * console.log(compressDurations("rate(x[5m]) > 0", 60)); // "rate(x[5s]) > 0"
 * ```
 * @module
 */
import { parse, stringify } from "yaml";
import { freePort } from "../testing/port.ts";
import { repoPath } from "./_stack.ts";

/** Milliseconds in each Prometheus duration unit. */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const DURATION = /^((\d+)(ms|s|m|h|d|w|y))+$/;

/** A Prometheus duration (`1h30m`, `5m`, `500ms`) in milliseconds. */
export function durationMs(text: string): number {
  if (!DURATION.test(text)) throw new Error(`not a Prometheus duration: ${text}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    total += Number(amount) * UNIT_MS[unit];
  }
  return total;
}

/** `ms` as a Prometheus duration, in whole seconds when it is one. */
function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * `expr` with every range and subquery window (`[5m]`, `[10m:1m]`) divided by `factor`, never
 * below `minMs` (a rate needs a few scrapes in its window).
 */
export function compressDurations(expr: string, factor: number, minMs = 0): string {
  const scale = (text: string) => formatMs(Math.max(minMs, Math.round(durationMs(text) / factor)));
  return expr.replace(
    /\[\s*([0-9a-z]+)\s*(?::\s*([0-9a-z]*)\s*)?\]/g,
    (_match, range: string, step: string | undefined) =>
      step === undefined
        ? `[${scale(range)}]`
        : `[${scale(range)}:${step === "" ? "" : scale(step)}]`,
  );
}

/** Options of {@linkcode compressedRules}. */
export interface Compression {
  /** How much faster time runs: 60 turns minutes into seconds. */
  readonly factor: number;
  /** The shortest range window after compression. */
  readonly minRangeMs: number;
}

/** The shipped rule files, each rewritten with every `for:`, `keep_firing_for:` and window compressed. */
export function compressedRules(compression: Compression): Array<{ name: string; text: string }> {
  const folder = repoPath("prometheus/rules");
  const files = [...Deno.readDirSync(folder)].filter((e) => e.isFile && e.name.endsWith(".yml"))
    .map((e) => e.name).sort();
  return files.map((name) => {
    const document = parse(Deno.readTextFileSync(`${folder}/${name}`)) as {
      groups: Array<{ interval?: string; rules: Array<Record<string, unknown>> }>;
    };
    for (const group of document.groups) {
      if (group.interval) {
        group.interval = formatMs(Math.max(1000, durationMs(group.interval) / compression.factor));
      }
      for (const rule of group.rules) {
        rule.expr = compressDurations(
          String(rule.expr),
          compression.factor,
          compression.minRangeMs,
        );
        for (const key of ["for", "keep_firing_for"]) {
          if (typeof rule[key] === "string") {
            rule[key] = formatMs(Math.round(durationMs(rule[key] as string) / compression.factor));
          }
        }
      }
    }
    return { name, text: stringify(document) };
  });
}

/** A server process started by a test, with its output kept for failure messages. */
export interface Server {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startServer(
  command: string,
  args: string[],
  url: string,
  readyPath: string,
): Promise<Server> {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).spawn();
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      chunks.push(decoder.decode(chunk));
      if (chunks.length > 2000) chunks.splice(0, 1000);
    }
  };
  const draining = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const server: Server = {
    url,
    output: () => chunks.join(""),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await draining;
    },
  };
  const until = Date.now() + 30_000;
  while (true) {
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
    ]);
    if (status) {
      await draining;
      throw new Error(`${command} exited with ${status.code}:\n${server.output()}`);
    }
    try {
      const response = await fetch(`${url}${readyPath}`);
      await response.body?.cancel();
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await server.stop();
      throw new Error(`${command} was not ready within 30 s:\n${server.output()}`);
    }
  }
}

/** The Alertmanager binary: Debian names it prometheus-alertmanager. */
export const ALERTMANAGER_BINARY = "prometheus-alertmanager";

/** Starts Alertmanager with the shipped routing, every receiver posting to `webhook`. */
export async function startAlertmanager(dir: string, webhook: string): Promise<Server> {
  const config = parse(Deno.readTextFileSync(repoPath("alertmanager/alertmanager.yml"))) as {
    route: Record<string, unknown>;
    receivers: Array<Record<string, unknown>>;
  };
  for (const receiver of config.receivers) {
    receiver.webhook_configs = [{ url: webhook, send_resolved: true }];
  }
  // Notification timing compressed like the rules: seconds where the file says minutes.
  Object.assign(config.route, { group_wait: "1s", group_interval: "1s", repeat_interval: "1m" });
  const file = `${dir}/alertmanager.yml`;
  Deno.writeTextFileSync(file, stringify(config));
  const port = freePort();
  return await startServer(
    ALERTMANAGER_BINARY,
    [
      `--config.file=${file}`,
      `--storage.path=${dir}/alertmanager-data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    `http://127.0.0.1:${port}`,
    "/-/ready",
  );
}

/** Options of {@linkcode startPrometheus}. */
export interface PrometheusOptions {
  readonly dir: string;
  /** `host:port` of each service the `functions` job scrapes, by its `service` label. */
  readonly targets: Readonly<Record<string, string>>;
  readonly alertmanager: string;
  readonly compression: Compression;
  readonly intervalMs: number;
}

/**
 * Starts Prometheus with the shipped `functions` scrape job (its targets replaced by the test
 * host's) and the shipped rules, compressed; exemplar storage on, as in the compose stack.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<Server> {
  const { dir, compression } = options;
  const shipped = parse(Deno.readTextFileSync(repoPath("prometheus/prometheus.yml"))) as {
    scrape_configs: Array<
      {
        job_name: string;
        static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
      } & Record<string, unknown>
    >;
  };
  const functions = shipped.scrape_configs.find((job) => job.job_name === "functions");
  if (!functions) throw new Error("prometheus/prometheus.yml has no functions job");
  const interval = formatMs(options.intervalMs);
  const staticConfigs = functions.static_configs.flatMap((entry) => {
    const service = entry.labels?.service;
    const target = service === undefined ? undefined : options.targets[service];
    return target ? [{ ...entry, targets: [target] }] : [];
  });
  const ruleFiles = compressedRules(compression).map(({ name, text }) => {
    const file = `${dir}/rules-${name}`;
    Deno.writeTextFileSync(file, text);
    return file;
  });
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: ruleFiles,
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [new URL(options.alertmanager).host] }] }],
    },
    scrape_configs: [{
      ...functions,
      scrape_interval: interval,
      scrape_timeout: interval,
      static_configs: staticConfigs,
    }],
  };
  const file = `${dir}/prometheus.yml`;
  Deno.writeTextFileSync(file, stringify(config));
  const port = freePort();
  return await startServer(
    "prometheus",
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${dir}/prometheus-data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--enable-feature=exemplar-storage",
      // Firing alerts are re-sent each evaluation, not each minute: the compressed `for:` needs it.
      `--rules.alert.resend-delay=${interval}`,
    ],
    `http://127.0.0.1:${port}`,
    "/-/ready",
  );
}

/** A notification Alertmanager posted to the webhook, one per alert, with when it arrived. */
export interface Notification {
  readonly received: number;
  readonly status: "firing" | "resolved";
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly receiver: string;
}

/** The test's webhook receiver: keeps every alert Alertmanager sends it. */
export function startWebhook(): {
  url: string;
  notifications: Notification[];
  stop(): Promise<void>;
} {
  const notifications: Notification[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.json() as {
        receiver: string;
        alerts: Array<
          {
            status: "firing" | "resolved";
            labels: Record<string, string>;
            annotations: Record<string, string>;
          }
        >;
      };
      for (const alert of body.alerts) {
        notifications.push({
          received: Date.now(),
          status: alert.status,
          labels: alert.labels,
          annotations: alert.annotations,
          receiver: body.receiver,
        });
      }
      return new Response(null, { status: 200 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/alerts`,
    notifications,
    stop: () => server.shutdown(),
  };
}
