/**
 * The flag file: flagd's flag-definition JSON (the format of the OpenTelemetry demo's
 * `demo.flagd.json`), checked by `@openfeature/flagd-core` against flagd's schema, plus the
 * `description` each flag carries for people. A problem is reported with where it is, so a broken
 * file can be fixed from the log line alone.
 *
 * @example
 * ```ts
 * import { parseFlagFile, withVariant } from "./definitions.ts";
 * const text = JSON.stringify({
 *   flags: {
 *     app1SlowMs: { state: "ENABLED", variants: { off: 0, "1s": 1000 }, defaultVariant: "off" },
 *   },
 * });
 * const parsed = parseFlagFile(text);
 * if (parsed.ok) console.log(parsed.flags[0].variant); // "off"
 * const changed = withVariant(text, "app1SlowMs", "1s");
 * if (changed.ok) console.log(parseFlagFile(changed.text).ok); // true
 * ```
 * @module
 */
import { MemoryStorage, type Storage } from "@openfeature/flagd-core";

/** A flag value: flagd allows booleans, numbers, strings and JSON objects. */
export type FlagValue = boolean | number | string | Record<string, unknown>;

/** A flag as the API and the console show it. */
export interface FlagView {
  readonly name: string;
  readonly description: string;
  readonly state: "ENABLED" | "DISABLED";
  /** Every variant, in the file's order. */
  readonly variants: ReadonlyArray<{ readonly name: string; readonly value: FlagValue }>;
  /** The variant the file names as the flag's default (what `PUT` sets). */
  readonly defaultVariant: string;
  /** The variant in force now: the default, unless the flag is disabled. */
  readonly variant: string | null;
  /** The value in force now; null when the flag is disabled (functions then see it as off). */
  readonly value: FlagValue | null;
  /** True when the flag has flagd targeting rules, which may pick another variant per call. */
  readonly targeting: boolean;
}

/** A parse result. */
export type ParsedFlags =
  | { readonly ok: true; readonly flags: readonly FlagView[] }
  | { readonly ok: false; readonly error: string };

interface RawFlag {
  description?: unknown;
  state?: unknown;
  variants?: Record<string, FlagValue>;
  defaultVariant?: unknown;
  targeting?: unknown;
}

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

/**
 * Reads and checks a flag file's text; the error says what is wrong and where. With `into`, the
 * flags are loaded into that evaluator too (which keeps its flags when the text is invalid).
 */
export function parseFlagFile(text: string, into: Storage = new MemoryStorage(quiet)): ParsedFlags {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not valid JSON: ${(error as Error).message}` };
  }
  const problem = structuralProblem(document);
  if (problem) return { ok: false, error: problem };
  try {
    into.setConfigurations(text, true);
  } catch (error) {
    return { ok: false, error: describeParseError(error) };
  }
  const flags = (document as { flags: Record<string, RawFlag> }).flags;
  return { ok: true, flags: Object.entries(flags).map(([name, flag]) => view(name, flag)) };
}

/** What flagd-core would only report vaguely: variants of mixed types, an unknown default. */
function structuralProblem(document: unknown): string | undefined {
  const flags = (document as { flags?: unknown } | null)?.flags;
  if (typeof flags !== "object" || flags === null || Array.isArray(flags)) {
    return 'needs a "flags" object mapping flag names to definitions';
  }
  for (const [name, flag] of Object.entries(flags as Record<string, RawFlag>)) {
    const variants = flag?.variants;
    if (typeof variants !== "object" || variants === null || Array.isArray(variants)) continue;
    const types = new Set(Object.values(variants).map((value) => typeof value));
    if (types.size > 1) {
      return `/flags/${name}/variants mixes ${
        [...types].join(" and ")
      } values; every variant of a flag must have the same type`;
    }
    const chosen = flag.defaultVariant;
    if (typeof chosen === "string" && !(chosen in variants)) {
      return `/flags/${name}/defaultVariant ${JSON.stringify(chosen)} is not one of its variants (${
        Object.keys(variants).join(", ")
      })`;
    }
  }
  return undefined;
}

function view(name: string, flag: RawFlag): FlagView {
  const variants = Object.entries(flag.variants ?? {}).map(([variant, value]) => ({
    name: variant,
    value,
  }));
  const enabled = flag.state === "ENABLED";
  const defaultVariant = String(flag.defaultVariant ?? "");
  return {
    name,
    description: typeof flag.description === "string" ? flag.description : "",
    state: enabled ? "ENABLED" : "DISABLED",
    variants,
    defaultVariant,
    variant: enabled ? defaultVariant : null,
    value: enabled ? flag.variants?.[defaultVariant] ?? null : null,
    targeting: flag.targeting !== undefined && flag.targeting !== null &&
      !(typeof flag.targeting === "object" && Object.keys(flag.targeting).length === 0),
  };
}

/** flagd-core says only "invalid flagd flag configuration"; the schema errors and cause say why. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const schemaErrors = /^invalid flagd flag configuration: (\[[\s\S]*\])$/.exec(message)?.[1];
  if (schemaErrors) {
    try {
      const errors = JSON.parse(schemaErrors) as Array<
        { instancePath: string; message: string; params?: Record<string, unknown> }
      >;
      // anyOf/oneOf wrappers repeat what the specific errors before them said.
      const specific = errors.filter((e) => !/must match (a|exactly one) schema/.test(e.message));
      const lines = (specific.length > 0 ? specific : errors).map((e) =>
        `${e.instancePath || "/"} ${e.message}${
          e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""
        }${e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ""}`
      );
      return `does not match flagd's flag schema: ${[...new Set(lines)].slice(0, 3).join("; ")}`;
    } catch {
      return message;
    }
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
  return cause ? `${message}: ${cause}` : message;
}

/** A change to the file's text, or why it cannot be made (with the HTTP status it deserves). */
export type Changed =
  | { readonly ok: true; readonly text: string; readonly flag: FlagView }
  | { readonly ok: false; readonly status: 400 | 404 | 409; readonly error: string };

/**
 * The file's text with flag `name` set to `variant` (and enabled), everything else kept as it was.
 * Fails with 404 for an unknown flag, 400 for an unknown variant, 409 when the file is broken.
 */
export function withVariant(text: string, name: string, variant: string): Changed {
  const parsed = parseFlagFile(text);
  if (!parsed.ok) {
    return {
      ok: false,
      status: 409,
      error: `the flag file is invalid (${parsed.error}); fix it before switching flags`,
    };
  }
  const flag = parsed.flags.find((candidate) => candidate.name === name);
  if (flag === undefined) {
    return {
      ok: false,
      status: 404,
      error: `no flag named ${JSON.stringify(name.slice(0, 100))}; flags: ${
        parsed.flags.map((f) => f.name).join(", ")
      }`,
    };
  }
  if (!flag.variants.some((candidate) => candidate.name === variant)) {
    return {
      ok: false,
      status: 400,
      error: `${name} has no variant ${JSON.stringify(variant.slice(0, 100))}; variants: ${
        flag.variants.map((v) => v.name).join(", ")
      }`,
    };
  }
  const document = JSON.parse(text) as { flags: Record<string, RawFlag> };
  document.flags[name].defaultVariant = variant;
  document.flags[name].state = "ENABLED";
  const changed = `${JSON.stringify(document, null, 2)}\n`;
  return { ok: true, text: changed, flag: view(name, document.flags[name]) };
}
