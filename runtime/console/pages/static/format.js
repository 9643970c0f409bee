// @ts-check
// How the console writes durations and times, for the pages on the server and for console.js in
// the browser (which rewrites times in the browser's own time zone): one module, so both agree.
// Plain JavaScript with JSDoc types, since the browser loads it as it is (no build step).

/**
 * `0.42 ms` → `420 µs`, `12.3456` → `12.3 ms`, `1530` → `1.53 s`, `95000` → `1 m 35 s`.
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
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

/**
 * Three significant digits at most, without trailing zeros (`12.3`, `123`, `1.5`).
 * @param {number} value
 * @param {number} abs
 */
function round(value, abs) {
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** @param {number} value */
const pad = (value, width = 2) => String(value).padStart(width, "0");

/**
 * `14:03:07.123` in the local time zone.
 * @param {number} epochMs
 * @returns {string}
 */
export function formatClock(epochMs) {
  const date = new Date(epochMs);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
    pad(date.getMilliseconds(), 3)
  }`;
}

/**
 * `2026-11-30 14:03:07.123` in the local time zone.
 * @param {number} epochMs
 * @returns {string}
 */
export function formatDateTime(epochMs) {
  const date = new Date(epochMs);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${
    formatClock(epochMs)
  }`;
}

/**
 * `3 s ago`, `2 m ago`, `in 4 s`: a time relative to `now`.
 * @param {number} epochMs
 * @returns {string}
 */
export function formatRelative(epochMs, now = Date.now()) {
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
