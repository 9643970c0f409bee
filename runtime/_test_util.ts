/**
 * Helpers shared by the runtime's unit tests: an in-memory tracer, a service telemetry whose
 * spans and log lines the test can read, metric lookups and promtool's check. Ports, waiting, the
 * Kafka mock and the OTLP receiver are in testing/, shared with the integration tests and
 * benchmarks.
 *
 * @example
 * ```ts
 * import { memoryTelemetry } from "./_test_util.ts";
 * const telemetry = memoryTelemetry("app1");
 * telemetry.log.info("hello");
 * console.log(telemetry.lines.length); // 1
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { Tracer } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Registry } from "prom-client";
import type { LogLevel } from "./config.ts";
import type { FunctionContext, Logger } from "./function.ts";
import { createLogger, type LogRecord } from "./log.ts";
import { createMetrics, type Metrics } from "./telemetry/metrics.ts";
import { installContextManager, type ServiceTelemetry } from "./telemetry/provider.ts";

/** A tracer whose finished spans land in `exporter`. */
export interface MemoryTracer {
  readonly tracer: Tracer;
  readonly exporter: InMemorySpanExporter;
  /** The finished spans so far. */
  spans(): ReadableSpan[];
  /** The one finished span called `name`; throws when there is not exactly one. */
  span(name: string): ReadableSpan;
}

/** Creates an always-sampling tracer recording into memory; installs the context manager. */
export function memoryTracer(name = "test"): MemoryTracer {
  installContextManager();
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const spans = () => exporter.getFinishedSpans();
  return {
    tracer: provider.getTracer(name),
    exporter,
    spans,
    span(spanName) {
      const found = spans().filter((span) => span.name === spanName);
      if (found.length !== 1) {
        throw new Error(
          `expected one span "${spanName}", found ${found.length} among ${
            JSON.stringify(spans().map((span) => span.name))
          }`,
        );
      }
      return found[0];
    },
  };
}

/** A {@linkcode ServiceTelemetry} over memory: spans, log lines and records kept for asserts. */
export interface MemoryTelemetry extends ServiceTelemetry, MemoryTracer {
  readonly lines: string[];
  readonly records: LogRecord[];
  readonly log: Logger;
  readonly metrics: Metrics;
}

/** Creates telemetry for `service` that keeps everything in memory. */
export function memoryTelemetry(service = "test", level: LogLevel = "debug"): MemoryTelemetry {
  const traced = memoryTracer(service);
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const log = createLogger({
    service,
    level,
    write: (line) => lines.push(line),
    sink: (record) => records.push(record),
  });
  return {
    ...traced,
    lines,
    records,
    log,
    metrics: createMetrics(),
    flush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** A function's context with a service name, a logger and plain `fetch`: what triggers pass on. */
export function functionContext(service: string, log: Logger): FunctionContext {
  return { service, config: {}, log, fetch } as unknown as FunctionContext;
}

/**
 * The value of one sample: `name` is a counter or gauge, or a histogram's `_count`/`_sum`
 * series; undefined when no series has all of `labels`.
 */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const series = /_(count|sum)$/.exec(name);
  const base = series && registry.getSingleMetric(name) === undefined
    ? name.slice(0, series.index)
    : name;
  const metric = registry.getSingleMetric(base);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const sample = values.find((value) => {
    const sampleName = (value as { metricName?: string }).metricName ?? base;
    const sampleLabels = value.labels as Record<string, unknown>;
    return sampleName === name &&
      Object.entries(labels).every(([key, wanted]) => String(sampleLabels[key]) === wanted);
  });
  return sample?.value;
}

/**
 * Runs `promtool check metrics` on an exposition and fails unless it exits 0; returns what
 * promtool reported (lint findings included), for callers that want none.
 */
export async function assertPromtoolAccepts(text: string, context: string): Promise<string> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const report = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `promtool check metrics on ${context}: ${report}`);
  return report;
}
