/**
 * The Logs page: structured records, newest first, live; filtered by service, severity (and
 * above), text and trace id, kept in the URL; each record links to its trace and span.
 * @module
 */
import { type LogFilter, type LogRecordEntry, SEVERITIES, type Severity } from "../model.ts";
import { FilterForm, type FilterProps, filterQuery } from "./_filters.tsx";
import { Empty } from "./_layout.tsx";
import { LogTable } from "./trace.tsx";

/** Records the page shows when the URL names no limit. */
export const DEFAULT_LOG_LIMIT = 200;

/** The URL parameters that filter the list. */
export const LOG_FILTER_FIELDS = ["service", "severity", "q", "traceId"];

/** The filter a Logs URL names; invalid values are reported, not guessed. */
export function logFilterFromQuery(
  query: URLSearchParams,
): { filter: LogFilter; problems: string[] } {
  const { problems, text, limit } = filterQuery(query);
  const filter: { -readonly [K in keyof LogFilter]: LogFilter[K] } = {
    service: text("service"),
    q: text("q"),
  };
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
  filter.limit = limit(DEFAULT_LOG_LIMIT);
  return { filter, problems };
}

/** The filter form. */
export function LogFilters(props: FilterProps) {
  const q = (name: string) => props.query.get(name) ?? "";
  return (
    <FilterForm
      {...props}
      action="/logs"
      label="filter logs"
      fields={LOG_FILTER_FIELDS}
    >
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
    </FilterForm>
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
