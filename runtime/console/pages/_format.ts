/**
 * How the console writes numbers, times and ids: durations humanised (µs, ms, s), times in local
 * time with milliseconds (both from static/format.js, which the browser's script uses too), short
 * ids, a stable colour per service, and nice axis ticks.
 * @module
 */
import { serviceColor as colorOf } from "../../service_colors.ts";

export { formatClock, formatDateTime, formatDuration, formatRelative } from "./static/format.js";

/** The first eight characters of a trace or span id. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A rate per second: `0.4/s`, `12/s`. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return "0/s";
  if (perSecond < 10) return `${Number(perSecond.toFixed(2))}/s`;
  return `${Math.round(perSecond)}/s`;
}

/** A count with thousands separated by thin spaces: `12 345`. */
export function formatCount(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
}

/** A stable colour for a service name (the host's services in their declared order). */
export function serviceColor(service: string): string {
  return colorOf(service).hex;
}

/**
 * Round tick values from 0 up to `maxMs` (1, 2 or 5 times a power of ten apart), about `count`
 * of them, so an axis reads 0, 5 ms, 10 ms … instead of 0, 4.83 ms, 9.66 ms.
 */
export function niceTicks(maxMs: number, count = 5): number[] {
  if (!(maxMs > 0)) return [0];
  const rough = maxMs / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = 0; value <= maxMs + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  return ticks;
}

/** An attribute value as text: arrays joined, null as `null`. */
export function attributeText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(attributeText).join(", ")}]`;
  if (value === null || value === undefined) return "null";
  return String(value);
}
