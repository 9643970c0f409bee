/**
 * What the Traces and Logs filters share: reading the URL (a value that does not parse is a
 * problem to show, never a guess) and the form around each page's own fields.
 * @module
 */
import type { Child } from "hono/jsx";

/** The most rows a page lists, whatever the URL asks. */
const MAX_LIMIT = 10_000;

/** A filter URL's values; every one that does not parse adds to `problems`. */
export function filterQuery(query: URLSearchParams) {
  const problems: string[] = [];
  /** The value, trimmed; undefined when absent or empty. */
  const text = (name: string) => query.get(name)?.trim() || undefined;
  /** `limit`: a whole number from 1 to 10000, else `fallback`. */
  const limit = (fallback: number) => {
    const given = text("limit");
    if (given === undefined) return fallback;
    const value = Number(given);
    if (Number.isInteger(value) && value > 0 && value <= MAX_LIMIT) return value;
    problems.push(`limit "${given}" is not a whole number from 1 to ${MAX_LIMIT}`);
    return fallback;
  };
  return { problems, text, limit };
}

/** What a page's filter form is given: the URL's query, the services to offer, the problems. */
export interface FilterProps {
  readonly query: URLSearchParams;
  readonly services: readonly string[];
  readonly problems: readonly string[];
}

/** A filter form: the service, the page's own fields, Filter, Clear when any is set, problems. */
export function FilterForm(
  props: FilterProps & {
    action: string;
    label: string;
    /** The fields the form sets; any of them in the URL offers Clear. */
    fields: readonly string[];
    children: Child;
  },
) {
  const q = (name: string) => props.query.get(name) ?? "";
  const active = props.fields.some((name) => q(name) !== "");
  return (
    <form class="filters" method="get" action={props.action} role="search" aria-label={props.label}>
      <label>
        <span>Service</span>
        <select name="service">
          <option value="">any</option>
          {props.services.map((service) => (
            <option value={service} selected={service === q("service")}>{service}</option>
          ))}
        </select>
      </label>
      {props.children}
      <button type="submit">Filter</button>
      {active ? <a class="clear" href={props.action}>Clear</a> : null}
      {props.problems.length > 0
        ? <p class="problems" role="alert">{props.problems.join("; ")}</p>
        : null}
    </form>
  );
}
