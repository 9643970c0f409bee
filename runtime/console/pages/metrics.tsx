/**
 * The Metrics page: per function rate, errors and p50/p95/p99, per consumer processed, failed,
 * dead-lettered and lag, each with small inline SVG charts over the last minutes.
 * @module
 */
import type { ConsumerMetrics, FunctionMetrics, MetricsOverview } from "../model.ts";
import { formatCount, formatDuration, formatRate, serviceColor } from "./_format.ts";
import { Empty } from "./_layout.tsx";
import { ServiceChip } from "./_parts.tsx";

const CHART = { width: 168, height: 30 };

/** Bars (one per bucket) with an optional line over them, scaled to their own maxima. */
export function Spark(
  props: {
    bars: readonly number[];
    errors?: readonly number[];
    line?: readonly number[];
    color: string;
    label: string;
  },
) {
  const { width, height } = CHART;
  const n = Math.max(props.bars.length, props.line?.length ?? 0, 1);
  const step = width / n;
  const maxBar = Math.max(1, ...props.bars);
  const maxLine = Math.max(0, ...(props.line ?? []).filter((value) => !Number.isNaN(value)));
  const y = (value: number, max: number) => height - 1 - (value / max) * (height - 3);
  // Buckets without a value (NaN) break the line instead of dropping it to zero.
  const line = props.line && maxLine > 0
    ? props.line.map((value, i) =>
      Number.isNaN(value)
        ? ""
        : `${i === 0 || Number.isNaN(props.line![i - 1]) ? "M" : "L"}${
          ((i + 0.5) * step).toFixed(1)
        } ${y(value, maxLine).toFixed(1)}`
    ).join("")
    : undefined;
  // The bars ("b") and the error bars ("e") drawn over them, on one scale.
  const bars = (values: readonly number[], kind: "b" | "e") =>
    values.map((value, i) =>
      value > 0
        ? (
          <rect
            class={kind}
            x={(i * step + 0.5).toFixed(1)}
            y={y(value, maxBar).toFixed(1)}
            width={Math.max(1, step - 1).toFixed(1)}
            height={(height - 1 - y(value, maxBar)).toFixed(1)}
          />
        )
        : null
    );
  return (
    <svg
      class="spark"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={props.label}
      style={`--c:${props.color}`}
    >
      <title>{props.label}</title>
      <path class="base" d={`M0 ${height - 0.5}H${width}`} />
      {bars(props.bars, "b")}
      {bars(props.errors ?? [], "e")}
      {line ? <path class="l" d={line} /> : null}
    </svg>
  );
}

/** The window's buckets, oldest first, ending with the one that holds `now`. */
export interface Timeline {
  readonly slots: number;
  readonly bucketMs: number;
  readonly end: number;
}

/** `series` laid on the whole window: one value per bucket, `empty` where it has none. */
export function onTimeline<P extends { time: number }>(
  timeline: Timeline,
  series: readonly P[],
  value: (point: P) => number | undefined,
  empty: number,
): number[] {
  const out = Array.from({ length: timeline.slots }, () => empty);
  for (const point of series) {
    const bucket = (time: number) => Math.floor(time / timeline.bucketMs);
    const back = bucket(timeline.end) - bucket(point.time);
    const index = timeline.slots - 1 - back;
    const v = value(point);
    if (index >= 0 && index < timeline.slots && v !== undefined) out[index] = v;
  }
  return out;
}

/** The page body. */
export function MetricsView(props: { metrics: MetricsOverview; now: number }) {
  const { metrics } = props;
  const timeline: Timeline = {
    slots: Math.max(1, Math.round(metrics.windowMs / metrics.bucketMs)),
    bucketMs: metrics.bucketMs,
    end: props.now,
  };
  const minutes = Math.round(metrics.windowMs / 60_000);
  const window = minutes >= 1 ? `${minutes} min` : formatDuration(metrics.windowMs);
  if (metrics.functions.length === 0 && metrics.consumers.length === 0) {
    return (
      <Empty title="No invocations in the last minutes.">
        Rates and latencies come from the functions' invocation spans: the first request, message or
        cron run brings the first figures.
      </Empty>
    );
  }
  return (
    <>
      <section aria-labelledby="fn-h">
        <h2 id="fn-h">
          Functions{" "}
          <span class="muted small">
            last {window}, {formatDuration(metrics.bucketMs)}{" "}
            buckets; bars: calls (errors red), line: p95
          </span>
        </h2>
        <FunctionTable functions={metrics.functions} timeline={timeline} />
      </section>
      <section aria-labelledby="con-h">
        <h2 id="con-h">
          Consumers <span class="muted small">bars: processed (failed red), line: lag</span>
        </h2>
        <ConsumerTable consumers={metrics.consumers} timeline={timeline} />
      </section>
    </>
  );
}

function FunctionTable(props: { functions: readonly FunctionMetrics[]; timeline: Timeline }) {
  if (props.functions.length === 0) return <p class="muted">No function invoked in the window.</p>;
  return (
    <table class="list metrics">
      <thead>
        <tr>
          <th scope="col">Function</th>
          <th scope="col" class="c-opt">Trigger</th>
          <th scope="col" class="c-num">Rate</th>
          <th scope="col" class="c-num">Calls</th>
          <th scope="col" class="c-num">Errors</th>
          <th scope="col" class="c-num c-opt">p50</th>
          <th scope="col" class="c-num">p95</th>
          <th scope="col" class="c-num c-opt">p99</th>
          <th scope="col" class="c-chart">Calls, p95</th>
        </tr>
      </thead>
      <tbody>
        {props.functions.map((fn) => (
          <tr data-function={`${fn.service} ${fn.name}`}>
            <td>
              <ServiceChip service={fn.service} />{" "}
              <a
                href={`/?service=${encodeURIComponent(fn.service)}&name=${
                  encodeURIComponent(fn.name)
                }`}
              >
                {fn.name}
              </a>
            </td>
            <td class="muted c-opt">{fn.trigger}</td>
            <td class="c-num">{formatRate(fn.rate)}</td>
            <td class="c-num">{formatCount(fn.calls)}</td>
            <td class={fn.errors > 0 ? "c-num bad" : "c-num"}>
              {formatCount(fn.errors)}
              {fn.errors > 0 && fn.calls > 0
                ? <span class="small">{` (${((fn.errors / fn.calls) * 100).toFixed(1)}%)`}</span>
                : null}
            </td>
            <td class="c-num c-opt">{formatDuration(fn.p50Ms)}</td>
            <td class="c-num">{formatDuration(fn.p95Ms)}</td>
            <td class="c-num c-opt">{formatDuration(fn.p99Ms)}</td>
            <td class="c-chart">
              <Spark
                bars={onTimeline(props.timeline, fn.series, (point) => point.calls, 0)}
                errors={onTimeline(props.timeline, fn.series, (point) => point.errors, 0)}
                line={onTimeline(
                  props.timeline,
                  fn.series,
                  (point) => point.calls > 0 ? point.p95Ms : undefined,
                  Number.NaN,
                )}
                color={serviceColor(fn.service)}
                label={`${fn.name}: calls per bucket and p95, max p95 ${
                  formatDuration(Math.max(0, ...fn.series.map((point) => point.p95Ms)))
                }`}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ConsumerTable(props: { consumers: readonly ConsumerMetrics[]; timeline: Timeline }) {
  if (props.consumers.length === 0) {
    return <p class="muted">No Kafka-triggered function has run in the window.</p>;
  }
  return (
    <table class="list metrics">
      <thead>
        <tr>
          <th scope="col">Consumer</th>
          <th scope="col">Topic</th>
          <th scope="col" class="c-opt">Group</th>
          <th scope="col" class="c-num">Processed</th>
          <th scope="col" class="c-num">Failed</th>
          <th scope="col" class="c-num">Dead-lettered</th>
          <th scope="col" class="c-num">Lag</th>
          <th scope="col" class="c-chart">Processed, lag</th>
        </tr>
      </thead>
      <tbody>
        {props.consumers.map((consumer) => (
          <tr data-consumer={`${consumer.service} ${consumer.topic}`}>
            <td>
              <ServiceChip service={consumer.service} />
            </td>
            <td>
              <a
                href={`/?attr=${
                  encodeURIComponent(`messaging.destination.name:${consumer.topic}`)
                }`}
              >
                {consumer.topic}
              </a>
            </td>
            <td class="muted c-opt">{consumer.group}</td>
            <td class="c-num">{formatCount(consumer.processed)}</td>
            <td class={consumer.failed > 0 ? "c-num bad" : "c-num"}>
              {formatCount(consumer.failed)}
            </td>
            <td class={consumer.deadLettered > 0 ? "c-num bad" : "c-num"}>
              {formatCount(consumer.deadLettered)}
            </td>
            <td class="c-num">
              {consumer.lag === undefined
                ? <span class="muted" title="no lag metric reported">—</span>
                : formatCount(consumer.lag)}
            </td>
            <td class="c-chart">
              <Spark
                bars={onTimeline(props.timeline, consumer.series, (point) => point.processed, 0)}
                errors={onTimeline(props.timeline, consumer.series, (point) => point.failed, 0)}
                line={consumer.series.some((point) => point.lag !== undefined)
                  ? onTimeline(props.timeline, consumer.series, (point) => point.lag, Number.NaN)
                  : undefined}
                color={serviceColor(consumer.service)}
                label={`${consumer.service} on ${consumer.topic}: processed per bucket and lag`}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
