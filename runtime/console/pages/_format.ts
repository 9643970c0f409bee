/**
 * How the console writes numbers, times and ids: durations humanised (µs, ms, s), times in local
 * time with milliseconds, short ids, a stable colour per service, and nice axis ticks.
 * @module
 */
import { serviceColor as colorOf } from "../../service_colors.ts";

/** `0.42 ms` → `420 µs`, `12.3456` → `12.3 ms`, `1530` → `1.53 s`, `95000` → `1 m 35 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs === 0) return "0 ms";
  if (abs < 1) return `${round(ms * 1000, abs * 1000)} µs`;
  if (abs < 1000) return `${round(ms, abs)} ms`;
  if (abs < 60_000) return `${round(ms / 1000, abs / 1000)} s`;
  const minutes = Math.floor(abs / 60_000);
  const seconds = Math.round((abs - minutes * 60_000) / 1000);
  return `${ms < 0 ? "-" : ""}${minutes} m ${seconds} s`;
}

/** Three significant digits at most, without trailing zeros (`12.3`, `123`, `1.5`). */
function round(value: number, abs: number): string {
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

/** `14:03:07.123` in the local time zone of the process. */
export function formatClock(epochMs: number): string {
  const date = new Date(epochMs);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
    pad(date.getMilliseconds(), 3)
  }`;
}

/** `2026-11-30 14:03:07.123` in the local time zone of the process. */
export function formatDateTime(epochMs: number): string {
  const date = new Date(epochMs);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${
    formatClock(epochMs)
  }`;
}

/** `3 s ago`, `2 m ago`, `in 4 s`: a time relative to `now`. */
export function formatRelative(epochMs: number, now = Date.now()): string {
  const delta = epochMs - now;
  const abs = Math.abs(delta);
  const text = abs < 1000
    ? `${Math.round(abs)} ms`
    : abs < 60_000
    ? `${Math.round(abs / 1000)} s`
    : abs < 3_600_000
    ? `${Math.round(abs / 60_000)} m`
    : `${Math.round(abs / 3_600_000)} h`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

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
