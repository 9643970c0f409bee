/**
 * Turns the benchmark results into markdown: the tables printed at the end of a run and the
 * generated part of `docs/BENCHMARKS.md` (between its `bench:results` markers; the hand-written
 * rest of the document is kept).
 *
 * @example
 * ```ts
 * import { renderResults } from "./report.ts";
 * // const markdown = renderResults({ machine, command, http, kafka, flows, startup, ... });
 * ```
 * @module
 */
import type { FlowBenchResult, PathLatency } from "./flow.ts";
import { HTTP_VARIANTS, type HttpBenchResult, type HttpVariantKey } from "./http.ts";
import type { KafkaBenchResult } from "./kafka.ts";
import type { Machine } from "./machine.ts";
import { mib, type StartupBenchResult } from "./startup.ts";
import type { ThroughputBenchResult } from "./throughput.ts";

/** Everything one run measured. */
export interface BenchResults {
  readonly date: string;
  readonly command: string;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly pinned: boolean;
  readonly settings: Readonly<Record<string, string>>;
  readonly http?: HttpBenchResult;
  readonly kafka?: KafkaBenchResult;
  readonly flows: readonly FlowBenchResult[];
  /** One bare kafkajs hop on the same broker, the floor of each Kafka hop of the flow. */
  readonly kafkaHop?: PathLatency;
  readonly skipped: readonly string[];
  readonly startup?: StartupBenchResult;
  readonly throughput?: ThroughputBenchResult;
}

/** Target thresholds from the issues (14: throughput, the host's cost, start-up, footprint). */
export const TARGETS = {
  httpRatio: 0.3,
  kafkaRatio: 0.4,
  /** The host against Deno's built-in OpenTelemetry at its defaults. */
  peerRatio: 1.5,
  /** The Kafka path, offered at this rate for `flowSeconds`: nothing lost, p99 under 1 s. */
  flowRate: 1000,
  flowSeconds: 60,
  flowP99Ms: 1000,
  coldStartMs: 1500,
  /** Resident memory 10 s after start, fresh and existing data folder. */
  rssAt10sMib: 250,
  /**
   * "Flat": RSS trend over the second half of the sustained load below 1 MiB per 10k requests
   * (a leak of 100 bytes a request would show). It was set before the measurements and is not
   * moved after them: a run that exceeds it says so.
   */
  memoryTrendMib: 1,
};

export const BEGIN = "<!-- bench:results:begin -->";
export const END = "<!-- bench:results:end -->";

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const f = (value: number, digits = 0) => Number.isFinite(value) ? value.toFixed(digits) : "n/a";

/**
 * A ratio with three decimals, cut rather than rounded, so that a ratio just under its target
 * (0.29996 against 0.30) never reads as the target itself next to "not met".
 */
export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "n/a";
  return (Math.floor(value * 1000 + 1e-9) / 1000).toFixed(3);
}

function httpTable(http: HttpBenchResult): string {
  const bare = http.variants.bare;
  const order: HttpVariantKey[] = ["host", "host_console", "deno_otel", "host_off", "bare"];
  return table(
    ["HTTP variant", "req/s (median)", "p50 ms", "p99 ms", "vs bare", "runs (req/s)", "exported"],
    order.map((key) => {
      const v = http.variants[key];
      const exported = v.sink
        ? `${v.sink.spans} spans, ${v.sink.logs} logs for ${v.requests} requests`
        : "-";
      return [
        HTTP_VARIANTS[key],
        f(v.rps),
        f(v.p50Ms, 2),
        f(v.p99Ms, 2),
        formatRatio(v.rps / bare.rps),
        v.runs.map((run) => f(run.rps)).join(", "),
        exported + (v.errors > 0 ? `; ${v.errors} errors` : ""),
      ];
    }),
  );
}

function kafkaTable(kafka: KafkaBenchResult): string {
  const spans = kafka.hostSink.map((stats) => stats.spans);
  const logs = kafka.hostSink.map((stats) => stats.logs);
  return table(
    ["Kafka consumer", "msg/s (median)", "vs bare", "runs (msg/s)", "exported per run"],
    [
      [
        "host consumer path (CONSUMER span per message, logs, metrics)",
        f(kafka.host.rate),
        formatRatio(kafka.ratio),
        kafka.host.runs.map((rate) => f(rate)).join(", "),
        `spans ${spans.join(", ")}; logs ${logs.join(", ")} (of ${kafka.messages})`,
      ],
      [
        "bare kafkajs consumer (eachBatch, same settings)",
        f(kafka.bare.rate),
        formatRatio(1),
        kafka.bare.runs.map((rate) => f(rate)).join(", "),
        "-",
      ],
    ],
  );
}

function flowRows(flow: FlowBenchResult): string[][] {
  const which = flow.embedded
    ? "embedded defaults (polled via app3/app4 GET)"
    : "PostgreSQL, Redis, mock Kafka";
  const row = (path: string, latency: PathLatency) => [
    `${which}: ${path}`,
    f(latency.p50Ms, 1),
    f(latency.p99Ms, 1),
    f(latency.maxMs, 1),
    `${latency.samples}${latency.missing > 0 ? ` (+${latency.missing} missing)` : ""}`,
  ];
  return [
    row("executor call → row in PostgreSQL", flow.postgres),
    row("executor call → key in Redis (two Kafka hops)", flow.redis),
  ];
}

function startupTable(startup: StartupBenchResult): string {
  const m = startup.memory;
  return table(["Start-up and memory (runtime/main.ts, all services, embedded)", "value"], [
    [
      "process start → first 2xx, fresh data folder (median)",
      `${f(startup.coldMedianMs)} ms (${startup.coldMs.map((ms) => f(ms)).join(", ")})`,
    ],
    [
      "process start → first 2xx, existing data folder (median)",
      `${f(startup.warmMedianMs)} ms (${startup.warmMs.map((ms) => f(ms)).join(", ")})`,
    ],
    [
      "RSS 10 s after start: fresh / existing data folder",
      `${startup.coldRss10sBytes.map(mib).join(", ")} / ${
        startup.warmRss10sBytes.map(mib).join(", ")
      } MiB`,
    ],
    [
      "peak RSS (VmHWM) 10 s after a fresh start",
      `${startup.coldPeakBytes.map(mib).join(", ")} MiB`,
    ],
    ["RSS before the load (existing folder)", `${mib(m.afterStartBytes)} MiB`],
    [
      `RSS after ${m.load.requests} requests (${f(m.load.rps)} req/s, app1 → app3 → PostgreSQL)`,
      `${mib(m.afterLoadBytes)} MiB`,
    ],
    [
      "RSS during the load: first / last / max sample",
      `${mib(m.firstBytes)} / ${mib(m.lastBytes)} / ${mib(m.maxBytes)} MiB (${m.samples} samples)`,
    ],
    [
      "RSS at 0 %, 10 %, … 100 % of the load",
      m.series.map((bytes) => mib(bytes)).join(", ") + " MiB",
    ],
    ["RSS trend, second half of the load", `${f(m.slopeMibPer10k, 2)} MiB per 10k requests`],
    [
      "V8 heap in use, lowest sample in each tenth of the load",
      m.heapLows.map((bytes) => mib(bytes)).join(", ") + " MiB",
    ],
    [
      "V8 heap used after start → after the load",
      `${mib(m.heap.afterStart.heapUsedBytes)} → ${
        mib(m.heap.afterLoad.heapUsedBytes)
      } MiB (heap total ${mib(m.heap.afterStart.heapTotalBytes)} → ${
        mib(m.heap.afterLoad.heapTotalBytes)
      } MiB)`,
    ],
  ]);
}

/** Whether each target was met. */
export function targets(results: BenchResults): string[][] {
  const rows: string[][] = [];
  const mark = (ok: boolean) => ok ? "met" : "**not met**";
  if (results.throughput) {
    const { report } = results.throughput;
    const offered = report.throughput.sent;
    const full = !results.quick;
    rows.push([
      `Kafka path, one host, real PostgreSQL and Redis, mock broker, full telemetry: ${TARGETS.flowRate} msg/s for ${TARGETS.flowSeconds} s, 0 lost, p99 accept → Redis < ${TARGETS.flowP99Ms} ms`,
      `${f(offered)} msg/s offered for ${
        f(report.sendSeconds, 1)
      } s; ${report.landed} of ${report.accepted} accepted landed (${report.lost} lost, ${
        report.rejected + report.failed
      } not accepted); p99 ${f(report.landingLatencyMs.p99)} ms`,
      !full ? "not judged (quick run)" : mark(
        offered >= TARGETS.flowRate * 0.99 && report.sendSeconds >= TARGETS.flowSeconds * 0.99 &&
          report.lost === 0 && report.rejected + report.failed === 0 &&
          report.landingLatencyMs.p99 < TARGETS.flowP99Ms,
      ),
    ]);
  }
  if (results.http) {
    rows.push([
      `http_ratio: host (full telemetry) ≥ ${TARGETS.httpRatio} × bare Hono`,
      formatRatio(results.http.ratio),
      mark(results.http.ratio >= TARGETS.httpRatio),
    ]);
    rows.push([
      `peer_ratio: host (full telemetry) ≥ ${TARGETS.peerRatio} × Deno built-in OTel at its defaults`,
      formatRatio(results.http.peerRatio),
      mark(results.http.peerRatio >= TARGETS.peerRatio),
    ]);
  }
  if (results.kafka) {
    rows.push([
      `kafka_ratio: host consumer ≥ ${TARGETS.kafkaRatio} × bare kafkajs`,
      formatRatio(results.kafka.ratio),
      mark(results.kafka.ratio >= TARGETS.kafkaRatio),
    ]);
  }
  if (results.startup) {
    const startup = results.startup;
    rows.push([
      `cold start, fresh data folder: first 2xx < ${TARGETS.coldStartMs} ms`,
      `${f(startup.coldMedianMs)} ms (median)`,
      mark(startup.coldMedianMs < TARGETS.coldStartMs),
    ]);
    const worst = (values: readonly number[]) => Math.max(...values) / 2 ** 20;
    rows.push([
      `resident memory 10 s after start < ${TARGETS.rssAt10sMib} MiB, fresh data folder`,
      `${f(worst(startup.coldRss10sBytes), 1)} MiB (largest of ${startup.coldRss10sBytes.length})`,
      mark(worst(startup.coldRss10sBytes) < TARGETS.rssAt10sMib),
    ]);
    rows.push([
      `resident memory 10 s after start < ${TARGETS.rssAt10sMib} MiB, existing data folder`,
      `${f(worst(startup.warmRss10sBytes), 1)} MiB (largest of ${startup.warmRss10sBytes.length})`,
      mark(worst(startup.warmRss10sBytes) < TARGETS.rssAt10sMib),
    ]);
    const trend = startup.memory.slopeMibPer10k;
    rows.push([
      `memory flat under sustained load (trend < ${TARGETS.memoryTrendMib} MiB per 10k requests)`,
      `${f(trend, 2)} MiB per 10k requests`,
      // V8 grows its heap over the first ~15k requests; a quick run ends inside that ramp.
      results.quick ? "not judged (quick run)" : mark(trend < TARGETS.memoryTrendMib),
    ]);
  }
  return rows;
}

function throughputTable(result: ThroughputBenchResult): string {
  const { report } = result;
  const lat = (l: { p50: number; p95: number; p99: number; max: number }) =>
    `${f(l.p50, 1)} / ${f(l.p95, 1)} / ${f(l.p99, 1)} / ${f(l.max, 1)}`;
  return table(["Kafka path under load (runLoad, post-message)", "value"], [
    ["offered", `${f(report.throughput.sent)} msg/s for ${f(report.sendSeconds, 1)} s`],
    [
      "sent / accepted / rejected / failed",
      `${report.sent} / ${report.accepted} / ${report.rejected} / ${report.failed}`,
    ],
    ["landed in Redis / lost", `${report.landed} / ${report.lost}`],
    ["landed per second (first send → last landing)", f(report.throughput.landed)],
    ["accept latency p50 / p95 / p99 / max, ms", lat(report.acceptLatencyMs)],
    ["accept → Redis p50 / p95 / p99 / max, ms", lat(report.landingLatencyMs)],
    ["telemetry exported during the run", `${result.spans} spans, ${result.logs} log records`],
  ]);
}

/** The generated part of the report. */
export function renderResults(results: BenchResults): string {
  const { machine } = results;
  const parts: string[] = [];
  parts.push(
    `Run ${results.date}${results.quick ? " (quick run)" : ""} with \`${results.command}\`.`,
  );
  parts.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory} RAM, Linux ${machine.kernel} (${machine.os}). ` +
      (results.pinned
        ? "Each measured process pinned to CPU 0 with `taskset`; wrk, the OTLP sinks, the mock broker and the orchestrator on CPU 1."
        : "Processes not pinned (no `taskset` or one CPU)."),
  );
  parts.push(
    "Versions: " +
      Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(", ") +
      ".",
  );
  parts.push(
    "Settings: " +
      Object.entries(results.settings).map(([name, value]) => `${name} ${value}`).join("; ") + ".",
  );
  parts.push("### Targets\n\n" + table(["target", "measured", ""], targets(results)));
  if (results.http) parts.push("### HTTP\n\n" + httpTable(results.http));
  if (results.kafka) parts.push("### Kafka\n\n" + kafkaTable(results.kafka));
  if (results.flows.length > 0) {
    parts.push(
      "### The seed's flow, end to end\n\n" +
        table(
          ["path", "p50 ms", "p99 ms", "max ms", "samples"],
          [
            ...results.flows.flatMap(flowRows),
            ...(results.kafkaHop
              ? [[
                "reference: one bare kafkajs hop on the same broker (send, acks=all → eachBatch)",
                f(results.kafkaHop.p50Ms, 1),
                f(results.kafkaHop.p99Ms, 1),
                f(results.kafkaHop.maxMs, 1),
                `${results.kafkaHop.samples}`,
              ]]
              : []),
          ],
        ) +
        "\n\n" +
        results.flows.map((flow) =>
          `${
            flow.embedded ? "Embedded" : "Real servers"
          }: ${flow.rate} ticks/s for ${flow.seconds} s, ${flow.failedCalls} failed calls, ${flow.spans} spans exported.`
        ).join(" "),
    );
  }
  if (results.throughput) {
    parts.push("### Throughput of the flow\n\n" + throughputTable(results.throughput));
  }
  if (results.startup) parts.push("### Start-up and memory\n\n" + startupTable(results.startup));
  if (results.skipped.length > 0) parts.push("Skipped: " + results.skipped.join("; ") + ".");
  return parts.join("\n\n");
}

/** `document` with its generated part replaced by `generated` (or a new document around it). */
export function updateDocument(document: string | undefined, generated: string): string {
  const block = `${BEGIN}\n${generated}\n${END}`;
  if (document !== undefined && document.includes(BEGIN) && document.includes(END)) {
    return document.slice(0, document.indexOf(BEGIN)) + block +
      document.slice(document.indexOf(END) + END.length);
  }
  return `# Benchmarks\n\n${block}\n`;
}
