/**
 * Reads the observability stack's configuration (docker-compose.yml, otel-collector/, tempo/,
 * loki/, prometheus/, alertmanager/, grafana/) and finds every metric name it queries, so tests
 * can check the stack against what the functions host really exports.
 *
 * @example
 * ```ts
 * import { metricNamesQueriedByStack, unproducedMetrics } from "./_stack.ts";
 * const scrape = await (await fetch("http://localhost:8001/metrics")).text();
 * const missing = unproducedMetrics(metricNamesQueriedByStack(), scrape);
 * if (missing.length > 0) throw new Error(JSON.stringify(missing, null, 2));
 * ```
 * @module
 */
import { parse as parseYaml } from "yaml";

/** A metric name the stack queries, and where (file › query) it is queried. */
export interface QueriedMetric {
  readonly name: string;
  readonly where: string;
}

/** Metric names produced by the stack itself rather than by the functions host. */
export interface StackGeneratedMetric {
  /** A metric name prefix, or the whole name when `exact` is set. */
  readonly prefix: string;
  readonly exact?: boolean;
  /** What produces these metrics. */
  readonly reason: string;
}

/**
 * The metrics dashboards and rules may query although no `/metrics` of the host exports them.
 * Each entry must be used by some query (tests/stack_test.ts checks it), so none goes stale.
 *
 * @example
 * ```ts
 * import { STACK_GENERATED_METRICS } from "./_stack.ts";
 * console.log(STACK_GENERATED_METRICS.map((m) => `${m.prefix}: ${m.reason}`).join("\n"));
 * ```
 */
export const STACK_GENERATED_METRICS: readonly StackGeneratedMetric[] = [
  {
    prefix: "up",
    exact: true,
    reason: "written by Prometheus for every scrape target (1 when the scrape succeeded)",
  },
  {
    prefix: "traces_span_metrics_",
    reason: "the collector's spanmetrics connector (otel-collector/config.yaml, namespace " +
      "traces.span.metrics) derives them from the host's spans; scraped from otel-collector:8889",
  },
  {
    prefix: "traces_service_graph_",
    reason: "Tempo's metrics-generator service-graphs processor (tempo/tempo.yaml) derives them " +
      "from the host's spans and remote-writes them to Prometheus",
  },
];

/**
 * Why a metric name is produced by the stack, or `undefined` if the host must export it.
 *
 * @example
 * ```ts
 * import { stackGeneratedReason } from "./_stack.ts";
 * stackGeneratedReason("traces_span_metrics_calls_total"); // "the collector's spanmetrics …"
 * stackGeneratedReason("http_requests_total"); // undefined
 * ```
 */
export function stackGeneratedReason(name: string): string | undefined {
  return STACK_GENERATED_METRICS.find((m) =>
    m.exact ? name === m.prefix : name.startsWith(m.prefix)
  )?.reason;
}

/** Words of PromQL that look like metric names but are not. */
const PROMQL_KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "bool",
  "and",
  "or",
  "unless",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The family name of a series name: histogram and summary series (`_bucket`, `_sum`, `_count`)
 * belong to the family their `# TYPE` line names. No metric of this project ends in these
 * suffixes otherwise.
 */
function familyName(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, "");
}

/**
 * The metric (family) names a PromQL expression selects. Grafana variables (`$service`,
 * `${service}`, `[[service]]`, `$__rate_interval`, `$__tags`) may appear anywhere.
 *
 * @example
 * ```ts
 * import { promqlMetricNames } from "./_stack.ts";
 * promqlMetricNames(
 *   'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
 * ); // ["http_request_duration_seconds"]
 * ```
 */
export function promqlMetricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const match of expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(familyName(match[1]));
  const stripped = expr
    .replace(/#[^\n]*/g, " ")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\[\[[^\]]*\]\]|\$\{[^}]*\}|\$\w+/g, "0")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const start = match.index ?? 0;
    const isNumberPart = /[0-9.]/.test(stripped[start - 1] ?? "");
    const isCall = /^\s*\(/.test(stripped.slice(start + word.length));
    if (isNumberPart || isCall || PROMQL_KEYWORDS.has(word.toLowerCase())) continue;
    names.add(familyName(word));
  }
  return [...names].sort();
}

/**
 * The metric names a Grafana Prometheus variable query selects: `label_values(selector,
 * label)`, `query_result(promql)`, or plain PromQL. `label_values(label)` selects none.
 *
 * @example
 * ```ts
 * import { variableQueryMetricNames } from "./_stack.ts";
 * variableQueryMetricNames('label_values(up{job="functions"}, service)'); // ["up"]
 * ```
 */
export function variableQueryMetricNames(query: string): string[] {
  const trimmed = query.trim();
  const labelValues = /^label_values\(\s*(.*?)\s*(?:,\s*[A-Za-z_]\w*\s*)?\)$/s.exec(trimmed);
  if (labelValues) {
    const selector = labelValues[1];
    return /^[A-Za-z_]\w*$/.test(selector) && !trimmed.includes(",")
      ? []
      : promqlMetricNames(selector);
  }
  const queryResult = /^query_result\((.*)\)$/s.exec(trimmed);
  return promqlMetricNames(queryResult ? queryResult[1] : trimmed);
}

/** The repository root (this file lives in tests/). */
const ROOT = new URL("../", import.meta.url);

/**
 * The absolute path of a file in the repository.
 *
 * @example
 * ```ts
 * import { repoPath } from "./_stack.ts";
 * Deno.readTextFileSync(repoPath("prometheus/prometheus.yml"));
 * ```
 */
export function repoPath(relative: string): string {
  return decodeURIComponent(new URL(relative, ROOT).pathname);
}

/** A parsed JSON or YAML document. */
export type Doc = Record<string, unknown>;

/**
 * Parses YAML text (the one YAML parser of the tests).
 *
 * @example
 * ```ts
 * import { parseYamlText } from "./_stack.ts";
 * parseYamlText("a: 1"); // { a: 1 }
 * ```
 */
export function parseYamlText(text: string): Doc {
  return parseYaml(text) as Doc;
}

/**
 * Parses a YAML file of the repository (throws with the file name when it does not parse).
 *
 * @example
 * ```ts
 * import { readYaml } from "./_stack.ts";
 * const config = readYaml("otel-collector/config.yaml");
 * ```
 */
export function readYaml(relative: string): Doc {
  try {
    return parseYaml(Deno.readTextFileSync(repoPath(relative))) as Doc;
  } catch (error) {
    throw new Error(`${relative} does not parse as YAML: ${error}`);
  }
}

/**
 * Parses a JSON file of the repository (throws with the file name when it does not parse).
 *
 * @example
 * ```ts
 * import { readJson } from "./_stack.ts";
 * const dashboard = readJson("grafana/dashboards/functions-red.json");
 * ```
 */
export function readJson(relative: string): Doc {
  try {
    return JSON.parse(Deno.readTextFileSync(repoPath(relative))) as Doc;
  } catch (error) {
    throw new Error(`${relative} does not parse as JSON: ${error}`);
  }
}

/**
 * The repository-relative paths of the files in a folder whose names end with one of `exts`.
 *
 * @example
 * ```ts
 * import { filesIn } from "./_stack.ts";
 * filesIn("grafana/dashboards", [".json"]); // ["grafana/dashboards/functions-kafka.json", …]
 * ```
 */
export function filesIn(folder: string, exts: readonly string[]): string[] {
  return [...Deno.readDirSync(repoPath(folder))]
    .filter((entry) => entry.isFile && exts.some((ext) => entry.name.endsWith(ext)))
    .map((entry) => `${folder}/${entry.name}`)
    .sort();
}

/** A Grafana panel as provisioned (only the fields the tests read). */
export interface Panel {
  readonly id?: number;
  readonly type?: string;
  readonly title?: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: ReadonlyArray<
    { refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }
  >;
  readonly panels?: readonly Panel[];
}

/**
 * Every panel of a dashboard, including those nested in collapsed rows.
 *
 * @example
 * ```ts
 * import { dashboardPanels, readJson } from "./_stack.ts";
 * const titles = dashboardPanels(readJson("grafana/dashboards/functions-red.json"))
 *   .map((p) => p.title);
 * ```
 */
export function dashboardPanels(dashboard: Doc): Panel[] {
  const all: Panel[] = [];
  const visit = (panels: readonly Panel[] | undefined) => {
    for (const panel of panels ?? []) {
      all.push(panel);
      visit(panel.panels);
    }
  };
  visit(dashboard.panels as Panel[] | undefined);
  return all;
}

/** The provisioned data sources, by uid, with their type. */
function datasourceTypes(): Map<string, string> {
  const file = readYaml("grafana/provisioning/datasources/datasources.yml");
  const sources = (file.datasources ?? []) as Array<{ uid: string; type: string }>;
  return new Map(sources.map((s) => [s.uid, s.type]));
}

/** Whether a dashboard query runs against Prometheus (as opposed to Loki, Tempo, …). */
function isPrometheus(
  source: { type?: string; uid?: string } | undefined,
  types: Map<string, string>,
): boolean {
  const type = source?.type ?? (source?.uid ? types.get(source.uid) : undefined);
  return type === "prometheus";
}

function fromDashboards(types: Map<string, string>): QueriedMetric[] {
  const found: QueriedMetric[] = [];
  for (const file of filesIn("grafana/dashboards", [".json"])) {
    const dashboard = readJson(file);
    for (const panel of dashboardPanels(dashboard)) {
      for (const target of panel.targets ?? []) {
        if (!target.expr || !isPrometheus(target.datasource ?? panel.datasource, types)) continue;
        const where = `${file} › panel "${panel.title}" (${target.refId})`;
        for (const name of promqlMetricNames(target.expr)) found.push({ name, where });
      }
    }
    const variables = ((dashboard.templating as Doc | undefined)?.list ?? []) as Array<
      { name: string; type: string; datasource?: { type?: string; uid?: string }; query?: unknown }
    >;
    for (const variable of variables) {
      if (variable.type !== "query" || !isPrometheus(variable.datasource, types)) continue;
      const query = typeof variable.query === "string"
        ? variable.query
        : String((variable.query as Doc | undefined)?.query ?? "");
      const where = `${file} › variable $${variable.name}`;
      for (const name of variableQueryMetricNames(query)) found.push({ name, where });
    }
  }
  return found;
}

function fromRules(): QueriedMetric[] {
  const found: QueriedMetric[] = [];
  for (const file of filesIn("prometheus/rules", [".yml", ".yaml"])) {
    const groups = (readYaml(file).groups ?? []) as Array<
      { rules: Array<{ alert?: string; record?: string; expr: string }> }
    >;
    for (const rule of groups.flatMap((group) => group.rules)) {
      const where = `${file} › ${rule.alert ? `alert ${rule.alert}` : `record ${rule.record}`}`;
      for (const name of promqlMetricNames(String(rule.expr))) found.push({ name, where });
    }
  }
  return found;
}

function fromDatasources(): QueriedMetric[] {
  const file = "grafana/provisioning/datasources/datasources.yml";
  const sources = (readYaml(file).datasources ?? []) as Array<
    {
      name: string;
      jsonData?: { tracesToMetrics?: { queries?: Array<{ name: string; query: string }> } };
    }
  >;
  return sources.flatMap((source) =>
    (source.jsonData?.tracesToMetrics?.queries ?? []).flatMap((query) =>
      promqlMetricNames(query.query).map((name) => ({
        name,
        where: `${file} › ${source.name} tracesToMetrics "${query.name}"`,
      }))
    )
  );
}

/**
 * Every metric name used by a Prometheus query of the stack: dashboard panels and variables,
 * alerting and recording rules, and the Tempo data source's trace-to-metrics links. Histogram
 * series are reported by family name (`http_request_duration_seconds`, not `…_bucket`).
 *
 * @example
 * ```ts
 * import { metricNamesQueriedByStack, stackGeneratedReason } from "./_stack.ts";
 * const fromHost = metricNamesQueriedByStack().filter((m) => !stackGeneratedReason(m.name));
 * ```
 */
export function metricNamesQueriedByStack(): QueriedMetric[] {
  const types = datasourceTypes();
  const all = [...fromDashboards(types), ...fromRules(), ...fromDatasources()];
  const unique = new Map(all.map((m) => [`${m.name}\u0000${m.where}`, m]));
  return [...unique.values()].sort((a, b) =>
    a.name.localeCompare(b.name) || a.where.localeCompare(b.where)
  );
}

/**
 * The metric family names in a Prometheus text exposition: every `# TYPE` name, and the family
 * of every sample (prom-client prints no sample for a labelled metric never observed).
 *
 * @example
 * ```ts
 * import { metricFamilies } from "./_stack.ts";
 * metricFamilies("# TYPE up gauge\nup 1\n"); // Set { "up" }
 * ```
 */
export function metricFamilies(exposition: string): Set<string> {
  const families = new Set<string>();
  for (const line of exposition.split("\n")) {
    const type = /^#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s/.exec(line);
    if (type) families.add(type[1]);
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[\s{]/.exec(line);
    if (sample) families.add(familyName(sample[1]));
  }
  return families;
}

/**
 * The queried metrics that neither the exposition (one or more `/metrics` scrapes joined)
 * contains nor the stack generates.
 *
 * @example
 * ```ts
 * import { metricNamesQueriedByStack, unproducedMetrics } from "./_stack.ts";
 * const missing = unproducedMetrics(metricNamesQueriedByStack(), "# TYPE up gauge\n");
 * ```
 */
export function unproducedMetrics(
  queried: readonly QueriedMetric[],
  exposition: string,
): QueriedMetric[] {
  const families = metricFamilies(exposition);
  return queried.filter((m) => !families.has(m.name) && !stackGeneratedReason(m.name));
}
