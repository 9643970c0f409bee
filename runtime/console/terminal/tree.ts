/**
 * A trace as terminal text: a header (start, root, total, spans, services), the seed's answers
 * (PostgreSQL, Kafka send / in topic / process, Redis, HTTP), then the spans as a tree, each with
 * its service, duration and a bar on the trace's time axis, so the shape and the slow part show.
 *
 * @example
 * ```ts
import { renderTrace } from "./tree.ts";
 * const text = renderTrace({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spans: [{
 *     traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "a", service: "executor",
 *     name: "call-message", kind: "internal", start: 0, durationMs: 30, status: "unset",
 *     attributes: {}, events: [], links: [], resource: {},
 *   }],
 *   logs: [],
 *   summary: {
 *     durationMs: 30, postgresqlMs: 0, redisMs: 0, kafka: { sendMs: 0, waitMs: 0, processMs: 0 },
 *     httpMs: 0, spanCount: 1, services: ["executor"], errors: 0,
 *   },
 * }, { color: false, width: 100 });
 * console.log(text);
 * ```
 * @module
 */
import { serviceColor } from "../../service_colors.ts";
import type { SpanRecord, TraceDetail } from "../model.ts";
import { formatClock, formatDuration } from "../pages/_format.ts";
import { buildWaterfall } from "../pages/_waterfall.ts";

/** Options of {@linkcode renderTrace}. */
export interface RenderOptions {
  /** ANSI colours. */
  readonly color: boolean;
  /** The terminal's width in columns. */
  readonly width: number;
}

const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";
const RED = "\x1b[31m";
const YELLOW = "\x1b[33m";

/** Renders one trace as lines of text (no trailing newline). */
export function renderTrace(trace: TraceDetail, options: RenderOptions): string {
  const paint = (code: string, text: string) => options.color ? `${code}${text}${RESET}` : text;
  const service = (name: string) => paint(`\x1b[38;5;${serviceColor(name).ansi}m`, name);
  const waterfall = buildWaterfall(trace.spans);
  const { summary } = trace;
  const root = waterfall.rows[0]?.span;
  const lines: string[] = [];

  lines.push(
    [
      paint(DIM, formatClock(waterfall.start)),
      paint(BOLD, root?.name ?? "(no spans)"),
      root ? `(${service(root.service)})` : "",
      paint(BOLD, formatDuration(summary.durationMs)),
      paint(DIM, `${summary.spanCount} spans`),
      summary.errors > 0
        ? paint(RED, `${summary.errors} error${summary.errors === 1 ? "" : "s"}`)
        : "",
      paint(DIM, trace.traceId),
    ].filter(Boolean).join("  "),
  );
  const parts: string[] = [];
  const part = (label: string, ms: number) => {
    if (ms > 0) parts.push(`${label} ${formatDuration(ms)}`);
  };
  part("PostgreSQL", summary.postgresqlMs);
  part("Kafka send", summary.kafka.sendMs);
  part("in topic", summary.kafka.waitMs);
  part("Kafka process", summary.kafka.processMs);
  part("Redis", summary.redisMs);
  part("HTTP", summary.httpMs);
  if (parts.length > 0) lines.push(paint(DIM, `  ${parts.join(" · ")}`));

  // Columns: tree and name | duration | bar.
  const barWidth = Math.max(10, Math.min(40, Math.floor(options.width * 0.28)));
  const durationWidth = 9;
  // "  " name " " duration " " ▕bar▏ fills the width exactly.
  const nameWidth = Math.max(20, options.width - barWidth - durationWidth - 6);
  const total = Math.max(waterfall.end - waterfall.start, 1e-6);
  const prefixes = treePrefixes(waterfall.rows.map((row) => row.depth));

  waterfall.rows.forEach((row, index) => {
    const { span } = row;
    const error = span.status === "error";
    const label = spanLabel(span, row.peer, row.wait?.ms);
    const plain = `${prefixes[index]}${label.plain}`;
    const fitted = plain.length > nameWidth ? `${plain.slice(0, nameWidth - 1)}…` : plain;
    const pad = " ".repeat(Math.max(0, nameWidth - fitted.length));
    // Colour is applied after fitting, on the visible parts only.
    const shown = fitted === plain
      ? `${paint(DIM, prefixes[index])}${label.paint(paint, service, error)}`
      : paint(error ? RED : "", fitted);
    const duration = formatDuration(span.durationMs).padStart(durationWidth);
    const bar = timeBar(span, row.wait, waterfall.start, total, barWidth);
    lines.push(
      `  ${shown}${pad} ${error ? paint(RED, duration) : duration} ${
        paint(error ? RED : `\x1b[38;5;${serviceColor(span.service).ansi}m`, bar.text)
      }`,
    );
  });
  return lines.join("\n");
}

/** `├─ `, `│  └─ ` … for rows of the given depths, in depth-first order. */
export function treePrefixes(depths: readonly number[]): string[] {
  return depths.map((depth, index) => {
    if (depth === 0) return "";
    let prefix = "";
    for (let level = 1; level < depth; level++) {
      prefix += hasLaterSibling(depths, index, level) ? "│  " : "   ";
    }
    return prefix + (hasLaterSibling(depths, index, depth) ? "├─ " : "└─ ");
  });
}

/** Whether a row after `index` sits at `level` before the tree climbs above it. */
function hasLaterSibling(depths: readonly number[], index: number, level: number): boolean {
  for (let next = index + 1; next < depths.length; next++) {
    if (depths[next] < level) return false;
    if (depths[next] === level) return true;
  }
  return false;
}

function spanLabel(span: SpanRecord, peer: string | undefined, waitMs: number | undefined) {
  const peerText = peer ? ` → ${peer}` : "";
  const waitText = waitMs !== undefined && waitMs > 0
    ? `  (${formatDuration(waitMs)} in topic)`
    : "";
  const errorText = span.status === "error" ? `  ! ${span.statusMessage ?? "error"}` : "";
  return {
    plain: `${span.name} (${span.service})${peerText}${waitText}${errorText}`,
    paint: (
      paint: (code: string, text: string) => string,
      service: (name: string) => string,
      error: boolean,
    ) =>
      `${error ? paint(RED, span.name) : span.name} (${service(span.service)})${
        paint(DIM, peerText)
      }${paint(YELLOW, waitText)}${paint(RED, errorText)}`,
  };
}

/** A bar of `width` cells: `░` for the Kafka wait before it, `█` for the span itself. */
function timeBar(
  span: SpanRecord,
  wait: { from: number; ms: number } | undefined,
  start: number,
  total: number,
  width: number,
): { text: string } {
  const cell = (time: number) => Math.max(0, Math.min(width, ((time - start) / total) * width));
  const cells = Array.from({ length: width }, () => " ");
  const from = cell(span.start);
  const to = Math.max(cell(span.start + span.durationMs), from + 0.5);
  if (wait && wait.ms > 0) {
    for (let i = Math.floor(cell(wait.from)); i < Math.floor(from); i++) cells[i] = "░";
  }
  for (let i = Math.floor(from); i < Math.min(width, Math.ceil(to)); i++) cells[i] = "█";
  return { text: `▕${cells.join("")}▏` };
}
