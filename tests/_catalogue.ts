/**
 * Reads docs/telemetry.md, the telemetry catalogue, into data a test can compare with what a
 * running host emits: the conditions, the resource attributes, each span type (name templates,
 * kind, services, attributes and events with their conditions), each metric family (type, labels
 * with their conditions, who records it) and each log record (message pattern, level, logger,
 * fields, condition).
 *
 * @example
 * ```ts
 * import { readCatalogue } from "./_catalogue.ts";
 * const catalogue = await readCatalogue();
 * console.log(catalogue.spans.map((span) => span.id));
 * ```
 * @module
 */

/** An attribute, label or field, and the condition it depends on (none: always). */
export interface Entry {
  readonly name: string;
  readonly when?: string;
}

/** A span type of the catalogue. */
export interface SpanType {
  /** The semantic convention's span id, `span.http.server`. */
  readonly id: string;
  /** Name templates: `{attribute}` stands for the span's value of it. */
  readonly names: readonly string[];
  readonly kind: string;
  readonly services: readonly string[];
  readonly links: boolean;
  readonly attributes: readonly (Entry & { readonly requirement: string })[];
  readonly events: readonly (Entry & { readonly attributes: readonly string[] })[];
}

/** A metric family of the catalogue. */
export interface MetricFamily {
  readonly name: string;
  readonly type: string;
  readonly unit: string;
  readonly labels: readonly Entry[];
  /** Services whose port serves it, or `["one port per process"]`. */
  readonly recordedBy: readonly string[];
}

/** A log record of the catalogue. */
export interface LogRecordType {
  readonly message: string;
  /** The message as a pattern: `…` stands for any text. */
  readonly pattern: RegExp;
  readonly level: string;
  /** The services (or `host`) that log it. */
  readonly loggers: readonly string[];
  readonly fields: readonly { readonly name: string; readonly optional: boolean }[];
  readonly when?: string;
}

/** The whole catalogue. */
export interface Catalogue {
  readonly conditions: ReadonlyMap<string, string>;
  readonly resource: readonly string[];
  readonly spans: readonly SpanType[];
  readonly metrics: readonly MetricFamily[];
  readonly logFields: readonly Entry[];
  readonly logs: readonly LogRecordType[];
}

/** Where the catalogue lives. */
export const CATALOGUE_PATH = new URL("../docs/telemetry.md", import.meta.url);

/** Reads and parses docs/telemetry.md. */
export async function readCatalogue(): Promise<Catalogue> {
  return parseCatalogue(await Deno.readTextFile(CATALOGUE_PATH));
}

/** The rows of the Markdown tables in `text`, each table as a list of cell lists (no header). */
function tables(text: string): string[][][] {
  const found: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = splitRow(line);
    if (current === undefined) {
      current = [];
      found.push(current);
      continue; // the header
    }
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    current.push(cells);
  }
  return found;
}

/** The cells of a table row; a `|` inside backticks stays in its cell. */
function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let code = false;
  for (
    const char of line.slice(
      1,
      line.trimEnd().endsWith("|") ? line.trimEnd().length - 1 : undefined,
    )
  ) {
    if (char === "`") code = !code;
    if (char === "|" && !code) {
      cells.push(cell.trim());
      cell = "";
    } else cell += char;
  }
  cells.push(cell.trim());
  return cells;
}

/** The backticked parts of a cell. */
function codes(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
}

/** The condition of a When cell: its backticked name, or none. */
function condition(cell: string): string | undefined {
  return codes(cell)[0];
}

/** The text of one `##` section (up to the next `##`). */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/telemetry.md has no "## ${title}" section`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Parses the catalogue's Markdown. */
export function parseCatalogue(text: string): Catalogue {
  const [conditionTable] = tables(section(text, "Conditions"));
  const conditions = new Map(conditionTable.map(([name, meaning]) => [codes(name)[0], meaning]));

  const [resourceTable] = tables(section(text, "Resource and scope"));
  const resource = resourceTable.map(([name]) => codes(name)[0]);

  const spans: SpanType[] = [];
  const spanText = section(text, "Spans");
  for (const part of spanText.split("\n### ").slice(1)) {
    const id = codes(part.split("\n")[0])[0];
    const [properties, attributes, events = []] = tables(part);
    const property = (name: string) => properties.find(([key]) => key === name)?.[1] ?? "";
    spans.push({
      id,
      names: codes(property("Name")),
      kind: codes(property("Kind"))[0],
      services: property("Services").split(/[,;]| and /).map((s) => s.trim().split(" ")[0])
        .filter((s) => /^(app\d|executor)$/.test(s)),
      links: property("Links") !== "",
      attributes: attributes.map(([name, requirement, when]) => ({
        name: codes(name)[0],
        requirement,
        when: condition(when),
      })),
      events: events.map(([name, names, when]) => ({
        name: codes(name)[0],
        attributes: codes(names),
        when: condition(when),
      })),
    });
  }

  const metricText = section(text, "Metrics");
  const metricTable = tables(metricText).find((table) => table.length > 0 && table[0].length === 6);
  if (!metricTable) throw new Error("docs/telemetry.md has no metric table");
  const metrics = metricTable.map(([name, type, unit, labels, recordedBy]) => ({
    name: codes(name)[0],
    type,
    unit,
    labels: [...labels.matchAll(/`([a-z0-9_]+)`(?:\s*_\(([a-z-]+)\)_)?/g)].map((match) => ({
      name: match[1],
      when: match[2],
    })),
    recordedBy: recordedBy.startsWith("one port")
      ? ["one port per process"]
      : recordedBy.split(",").map((s) => s.trim()),
  }));

  const [fieldTable, recordTable] = tables(section(text, "Logs"));
  const logFields = fieldTable.map(([name, , when]) => ({
    name: codes(name)[0],
    when: when === "" ? undefined : when,
  }));
  const logs = recordTable.map(([message, level, logger, fields, when]) => {
    const literal = codes(message)[0];
    return {
      message: literal,
      pattern: new RegExp(
        `^${
          literal.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")
        }$`,
      ),
      level,
      loggers: logger.split(",").map((name) => name.trim()),
      fields: codes(fields).map((field) => ({
        name: field.replace(/\?$/, ""),
        optional: field.endsWith("?"),
      })),
      when: condition(when),
    };
  });
  return { conditions, resource, spans, metrics, logFields, logs };
}
