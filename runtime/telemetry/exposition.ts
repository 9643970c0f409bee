/**
 * Writes metric registries as a Prometheus scrape answer: the classic text format (0.0.4) by
 * default, OpenMetrics 1.0 with exemplars when the scraper asks for it in `Accept` (Prometheus
 * does, first). Families without a series are left out, so a port serves only what its service
 * records.
 *
 * prom-client keeps the metric state; this module only formats it, because prom-client's own
 * OpenMetrics output renames counters in place (one registry cannot serve both formats, see
 * prometheus/client_js#829) and writes no `# UNIT`.
 *
 * @example
 * ```ts
 * import { Registry, Counter } from "prom-client";
 * import { expose, negotiate } from "./exposition.ts";
 * const registry = new Registry();
 * new Counter({ name: "jobs_total", help: "Jobs.", registers: [registry] }).inc();
 * const format = negotiate("application/openmetrics-text; version=1.0.0");
 * console.log(format.contentType, await expose([registry], format));
 * ```
 * @module
 */
import type { Registry } from "prom-client";

/** A scrape format. */
export interface Format {
  readonly name: "classic" | "openmetrics";
  readonly contentType: string;
}

/** The Prometheus text format 0.0.4. */
export const CLASSIC: Format = {
  name: "classic",
  contentType: "text/plain; version=0.0.4; charset=utf-8",
};

/** OpenMetrics 1.0 text, the format that carries exemplars. */
export const OPENMETRICS: Format = {
  name: "openmetrics",
  contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/**
 * The format an `Accept` header prefers: OpenMetrics when it weighs
 * `application/openmetrics-text` (any version) above every text/plain or wildcard range,
 * classic text otherwise (including no header at all).
 */
export function negotiate(accept: string | null | undefined): Format {
  let openMetrics = 0;
  let classic = accept ? 0 : 1;
  for (const range of (accept ?? "").split(",")) {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith("q="))?.slice(2) ?? "1");
    const weight = Number.isFinite(q) ? q : 0;
    if (type === "application/openmetrics-text") openMetrics = Math.max(openMetrics, weight);
    else if (["text/plain", "text/*", "*/*"].includes(type)) classic = Math.max(classic, weight);
  }
  return openMetrics > 0 && openMetrics >= classic ? OPENMETRICS : CLASSIC;
}

interface Sample {
  readonly metricName?: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly exemplar?: {
    readonly labelSet: Record<string, string | number>;
    readonly value: number | null;
    readonly timestamp?: number;
  } | null;
}

/** The registries' metrics in `format`; families with no series are left out. */
export async function expose(registries: readonly Registry[], format: Format): Promise<string> {
  const om = format.name === "openmetrics";
  const out: string[] = [];
  for (const registry of registries) {
    for (const family of await registry.getMetricsAsJSON()) {
      const samples = family.values as unknown as Sample[];
      if (samples.length === 0) continue;
      const type = String(family.type);
      const name = om && type === "counter" ? family.name.replace(/_total$/, "") : family.name;
      out.push(`# HELP ${name} ${escapeHelp(family.help, om)}`);
      out.push(`# TYPE ${name} ${type}`);
      const unit = om ? unitOf(name) : undefined;
      if (unit) out.push(`# UNIT ${name} ${unit}`);
      for (const sample of samples) {
        const sampleName = sample.metricName ?? (type === "counter" && om ? `${name}_total` : name);
        let line = `${sampleName}${formatLabels(sample.labels, om)} ${formatNumber(sample.value)}`;
        const exemplar = sample.exemplar;
        if (om && exemplar && exemplar.value !== null && Object.keys(exemplar.labelSet).length) {
          line += ` # ${formatLabels(exemplar.labelSet, om)} ${formatNumber(exemplar.value)}`;
          if (exemplar.timestamp !== undefined) line += ` ${exemplar.timestamp.toFixed(3)}`;
        }
        out.push(line);
      }
    }
  }
  if (om) out.push("# EOF");
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/** The OpenMetrics unit a family's name ends in, if it names one. */
function unitOf(name: string): string | undefined {
  return /_(seconds|bytes|ratio)$/.exec(name)?.[1];
}

/** Labels in the order given, `le` last (bucket bounds as canonical floats in OpenMetrics). */
function formatLabels(labels: Record<string, string | number>, om: boolean): string {
  const parts: string[] = [];
  let le: string | undefined;
  for (const [name, value] of Object.entries(labels)) {
    if (value === undefined) continue;
    if (name === "le") {
      le = typeof value === "number" ? formatBound(value, om) : String(value);
    } else parts.push(`${name}="${escapeLabel(String(value))}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatBound(value: number, om: boolean): string {
  const text = formatNumber(value);
  return om && Number.isInteger(value) ? `${text}.0` : text;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(help: string, om: boolean): string {
  const text = help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return om ? text.replace(/"/g, '\\"') : text;
}
