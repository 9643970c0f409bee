/**
 * The `flags` capability of a function's context: evaluates a flag through an OpenFeature client
 * and, when the flag is on (its value is not the caller's "off"), records the evaluation on the
 * active span as the semantic conventions' `feature_flag.evaluation` event (`feature_flag.key`,
 * `feature_flag.result.variant`, `feature_flag.result.value`, `feature_flag.provider.name`,
 * `feature_flag.result.reason`, `feature_flag.set.id`), built by OpenFeature's own
 * `createEvaluationEvent`. Evaluations of flags that are off add nothing to the span.
 *
 * @example
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * import { functionFlags } from "./function_flags.ts";
 * const flags = functionFlags(OpenFeature.getClient("example"), console);
 * console.log(await flags.number("app1SlowMs")); // 0: no provider, so every flag is off
 * ```
 * @module
 */
import { trace } from "@opentelemetry/api";
import {
  type Client,
  createEvaluationEvent,
  type EvaluationDetails,
  type FlagValue,
  type Hook,
  type HookContext,
} from "@openfeature/server-sdk";
import type { Flags } from "../function.ts";

/** Where evaluation problems are reported (the service's logger). */
export interface FlagsLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The flags a function reads, evaluated by `client`. */
export function functionFlags(client: Client, log: FlagsLog): Flags {
  const warned = new Set<string>();
  return {
    async number(key: string, off = 0): Promise<number> {
      let evaluated: { context: HookContext; details: EvaluationDetails<FlagValue> } | undefined;
      const capture: Hook = {
        after(context, details) {
          evaluated = { context, details };
        },
      };
      const details = await client.getNumberDetails(key, off, undefined, { hooks: [capture] });
      if (details.errorCode !== undefined && !warned.has(key)) {
        warned.add(key);
        log.warn("flag could not be evaluated; it stays off", {
          flag: key,
          error_type: details.errorCode.toLowerCase(),
          reason: details.errorMessage,
        });
      }
      const value = Number.isFinite(details.value) ? details.value : off;
      const span = trace.getActiveSpan();
      if (value !== off && span && evaluated) {
        const event = createEvaluationEvent(evaluated.context, evaluated.details);
        span.addEvent(
          event.name,
          Object.fromEntries(
            Object.entries(event.attributes).filter(([, attribute]) => attribute !== undefined),
          ) as Record<string, string | number | boolean>,
        );
      }
      return value;
    },
  };
}
