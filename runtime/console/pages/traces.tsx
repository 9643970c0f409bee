/**
 * The Traces page: newest first, live, filtered by service, span name, errors only, minimum
 * duration and attribute `key:value`, all kept in the URL.
 * @module
 */
import type { ConsoleReader, TraceFilter, TraceListItem } from "../model.ts";
import { formatDuration } from "./_format.ts";
import { FilterForm, type FilterProps, filterQuery } from "./_filters.tsx";
import { Empty } from "./_layout.tsx";
import { Duration, ServiceChip, Time, traceHref } from "./_parts.tsx";

/** Rows the page shows when the URL names no limit. */
export const DEFAULT_TRACE_LIMIT = 100;

/** The URL parameters that filter the list. */
export const TRACE_FILTER_FIELDS = ["service", "name", "error", "minMs", "attr"];

/** What "errors only" accepts as on. */
const YES = ["1", "true", "on", "yes"];

/** The filter a Traces URL names; invalid values are reported, not guessed. */
export function traceFilterFromQuery(
  query: URLSearchParams,
): { filter: TraceFilter; problems: string[] } {
  const { problems, text, limit } = filterQuery(query);
  const filter: { -readonly [K in keyof TraceFilter]: TraceFilter[K] } = {
    service: text("service"),
    name: text("name"),
  };
  const error = text("error");
  if (error !== undefined) filter.error = YES.includes(error);
  const minMs = text("minMs");
  if (minMs !== undefined) {
    const value = Number(minMs);
    if (Number.isFinite(value) && value >= 0) filter.minMs = value;
    else problems.push(`minimum duration "${minMs}" is not a number of milliseconds`);
  }
  const attr = text("attr");
  if (attr !== undefined) {
    const at = attr.indexOf(":");
    if (at > 0) filter.attr = { key: attr.slice(0, at).trim(), value: attr.slice(at + 1).trim() };
    else problems.push(`attribute "${attr}" is not key:value`);
  }
  filter.limit = limit(DEFAULT_TRACE_LIMIT);
  return { filter, problems };
}

/** The filter form above the list. */
export function TraceFilters(props: FilterProps) {
  const q = (name: string) => props.query.get(name) ?? "";
  return (
    <FilterForm
      {...props}
      action="/"
      label="filter traces"
      fields={TRACE_FILTER_FIELDS}
    >
      <label>
        <span>Span name</span>
        <input name="name" value={q("name")} placeholder="e.g. process Purchase" size={18} />
      </label>
      <label>
        <span>Min duration</span>
        <input
          name="minMs"
          value={q("minMs")}
          inputmode="decimal"
          placeholder="ms"
          size={5}
          aria-describedby="minms-unit"
        />
        <span id="minms-unit" class="unit">ms</span>
      </label>
      <label class="grow">
        <span>Attribute</span>
        <input
          name="attr"
          value={q("attr")}
          placeholder="key:value, e.g. message_id:0b6f… (span attributes and log fields)"
          size={30}
        />
      </label>
      <label class="checkbox">
        <input type="checkbox" name="error" value="1" checked={YES.includes(q("error"))} />
        <span>Errors only</span>
      </label>
    </FilterForm>
  );
}

/** The list itself: the live region of the page. */
export function TraceList(
  props: { traces: readonly TraceListItem[]; filtered: boolean; now: number },
) {
  if (props.traces.length === 0) {
    return props.filtered
      ? (
        <Empty title="No trace matches these filters.">
          New traces that match appear here as they arrive. <a href="/">Clear the filters</a>
        </Empty>
      )
      : (
        <Empty title="No traces yet.">
          Traces appear as the functions run: each request, message or cron run starts or joins one.
          Another application can send OTLP/HTTP to this console's <code>/v1/traces</code>.
        </Empty>
      );
  }
  const slowest = Math.max(...props.traces.map((trace) => trace.durationMs));
  return (
    <table class="list traces">
      <caption class="sr-only">Traces, newest first</caption>
      <thead>
        <tr>
          <th scope="col" class="c-time">Start</th>
          <th scope="col">Trace</th>
          <th scope="col" class="c-dur">Duration</th>
          <th scope="col" class="c-num">Spans</th>
          <th scope="col" class="c-svcs">Services</th>
        </tr>
      </thead>
      <tbody>
        {props.traces.map((trace) => (
          <tr data-trace-id={trace.traceId} class={trace.error ? "err" : undefined}>
            <td class="c-time">
              <Time ms={trace.start} />
            </td>
            <td class="c-name">
              <a href={traceHref(trace.traceId)} class="row-link">
                {trace.error
                  ? <span class="errmark" title="has an error span" aria-label="error">!</span>
                  : null}
                <ServiceChip service={trace.rootService} plain />
                <span class="name">{trace.rootName}</span>
                <span class="id muted">{trace.traceId.slice(0, 8)}</span>
              </a>
            </td>
            <td class="c-dur">
              <span
                class="bar"
                style={`--w:${
                  slowest > 0 ? Math.max(1, (trace.durationMs / slowest) * 100).toFixed(1) : 0
                }%`}
                title={`${formatDuration(trace.durationMs)} (slowest shown: ${
                  formatDuration(slowest)
                })`}
              >
              </span>
              <Duration ms={trace.durationMs} />
            </td>
            <td class="c-num">{trace.spanCount}</td>
            <td class="c-svcs">
              {trace.services.map((service) => <ServiceChip service={service} />)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every service the console knows of (its functions, plus `extra`), for the filters. */
export function knownServices(reader: ConsoleReader, extra: readonly string[]): string[] {
  const names = new Set<string>(extra);
  for (const fn of reader.functions().functions) names.add(fn.service);
  return [...names].sort();
}
