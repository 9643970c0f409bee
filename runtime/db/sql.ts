/**
 * What a parameterised SQL statement does, for span names and attributes: the operation and the
 * table it touches (`INSERT messages`), read from the text without any values.
 *
 * @example
 * ```ts
 * import { describeQuery } from "./sql.ts";
 * const described = describeQuery("insert into messages (id) values ($1)");
 * console.log(described); // { operation: "INSERT", collection: "messages" }
 * ```
 * @module
 */

/** The operation and collection of a statement; the collection is absent when unclear. */
export interface QueryDescription {
  readonly operation: string;
  readonly collection?: string;
}

const TABLE = String.raw`("?[\w$]+"?(?:\."?[\w$]+"?)?)`;
const PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ["INSERT", new RegExp(String.raw`^\s*insert\s+into\s+${TABLE}`, "i")],
  ["UPDATE", new RegExp(String.raw`^\s*update\s+(?:only\s+)?${TABLE}`, "i")],
  ["DELETE", new RegExp(String.raw`^\s*delete\s+from\s+(?:only\s+)?${TABLE}`, "i")],
  ["SELECT", new RegExp(String.raw`^\s*select\b[\s\S]*?\bfrom\s+${TABLE}`, "i")],
];

/** Describes `text`; the operation is its first keyword when no pattern names a table. */
export function describeQuery(text: string): QueryDescription {
  // Only the statement's own clauses count: drop literals, then parenthesised parts
  // (function calls like extract(epoch from …), sub-queries), innermost first.
  let outer = text.replace(/'(?:[^']|'')*'/g, "''");
  for (let previous = ""; previous !== outer;) {
    previous = outer;
    outer = outer.replace(/\([^()]*\)/g, " ");
  }
  for (const [operation, pattern] of PATTERNS) {
    const match = pattern.exec(outer);
    if (match) return { operation, collection: match[1].replaceAll('"', "") };
  }
  const keyword = /^\s*([a-z]+)/i.exec(text)?.[1]?.toUpperCase();
  return { operation: keyword ?? "QUERY" };
}
