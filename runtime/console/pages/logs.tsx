/**
 * The Logs page: structured records, newest first, live; filtered by service, severity (and
 * above), text and trace id, kept in the URL; each record links to its trace and span.
 * @module
 */
import { type LogFilter, type LogRecordEntry, SEVERITIES, type Severity } from "../model.ts";
import { Empty } from "./_layout.tsx";
import { LogTable } from "./trace.tsx";

/** Records the page shows when the URL names no limit. */
export const DEFAULT_LOG_LIMIT = 200;

/** The filter a Logs URL names; invalid values are reported, not guessed. */
export function logFilterFromQuery(
  query: URLSearchParams,
): { filter: LogFilter; problems: string[] } {
  const problems: string[] = [];
  const text = (name: string) => query.get(name)?.trim() || undefined;
  const filter: { -readonly [K in keyof LogFilter]: LogFilter[K] } = { limit: DEFAULT_LOG_LIMIT };
  filter.service = text("service");
  filter.q = text("q");
  const traceId = text("traceId");
  if (traceId !== undefined) {
    if (/^[0-9a-f]{32}$/i.test(traceId)) filter.traceId = traceId.toLowerCase();
    else problems.push(`trace id "${traceId}" is not 32 hexadecimal digits`);
  }
  const severity = text("severity");
  if (severity !== undefined) {
    if ((SEVERITIES as readonly string[]).includes(severity)) {
      filter.severity = severity as Severity;
    } else problems.push(`severity "${severity}" is not one of ${SEVERITIES.join(", ")}`);
  }
  const limit = text("limit");
  if (limit !== undefined) {
    const value = Number(limit);
    if (Number.isInteger(value) && value > 0 && value <= 10_000) filter.limit = value;
    else problems.push(`limit "${limit}" is not a whole number from 1 to 10000`);
  }
  return { filter, problems };
}

/** The filter form. */
export function LogFilters(
  props: { query: URLSearchParams; services: readonly string[]; problems: readonly string[] },
) {
  const q = (name: string) => props.query.get(name) ?? "";
  const active = ["service", "severity", "q", "traceId"].some((name) => q(name) !== "");
  return (
    <form class="filters" method="get" action="/logs" role="search" aria-label="filter logs">
      <label>
        <span>Service</span>
        <select name="service">
          <option value="">any</option>
          {props.services.map((service) => (
            <option value={service} selected={service === q("service")}>{service}</option>
          ))}
        </select>
      </label>
      <label>
        <span>Level</span>
        <select name="severity">
          <option value="">any</option>
          {SEVERITIES.map((severity) => (
            <option value={severity} selected={severity === q("severity")}>
              {severity} and above
            </option>
          ))}
        </select>
      </label>
      <label class="grow">
        <span>Text</span>
        <input
          name="q"
          value={q("q")}
          placeholder="in the message or a field, e.g. a message id"
          size={28}
          type="search"
        />
      </label>
      <label>
        <span>Trace id</span>
        <input name="traceId" value={q("traceId")} placeholder="32 hex digits" size={20} />
      </label>
      <button type="submit">Filter</button>
      {active ? <a class="clear" href="/logs">Clear</a> : null}
      {props.problems.length > 0
        ? <p class="problems" role="alert">{props.problems.join("; ")}</p>
        : null}
    </form>
  );
}

/** The records: the live region of the page. */
export function LogList(props: { logs: readonly LogRecordEntry[]; filtered: boolean }) {
  if (props.logs.length === 0) {
    return props.filtered
      ? (
        <Empty title="No log record matches these filters.">
          Matching records appear here as they are written. <a href="/logs">Clear the filters</a>
        </Empty>
      )
      : (
        <Empty title="No log records yet.">
          Every function's log records land here with their trace and span ids as they are written.
        </Empty>
      );
  }
  return <LogTable logs={props.logs} />;
}
