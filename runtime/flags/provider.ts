/**
 * An OpenFeature server provider that evaluates a {@linkcode FlagSource}'s flags in process with
 * `@openfeature/flagd-core`, the evaluator inside flagd and its in-process providers.
 *
 * Why not `@openfeature/flagd-provider` with `offlineFlagSourcePath`: it does run under Deno, but
 * it pulls in `@grpc/grpc-js` and protobufjs for a file it could read itself, and it cannot write
 * the file back for `PUT /api/flags/:name`; this provider is the file half of it, on the same core.
 *
 * @example
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * import { FlagdFileProvider } from "./provider.ts";
 * import { FlagSource } from "./source.ts";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, JSON.stringify({
 *   flags: { app1SlowMs: { state: "ENABLED", variants: { off: 0, "1s": 1000 }, defaultVariant: "1s" } },
 * }));
 * const source = await FlagSource.open(file, { log: console });
 * await OpenFeature.setProviderAndWait("example", new FlagdFileProvider(source));
 * console.log(await OpenFeature.getClient("example").getNumberValue("app1SlowMs", 0)); // 1000
 * source.close();
 * ```
 * @module
 */
import type { EvaluationContext, JsonValue, Logger, ResolutionDetails } from "@openfeature/core";
import { FlagdCore } from "@openfeature/flagd-core";
import { OpenFeatureEventEmitter, type Provider, ProviderEvents } from "@openfeature/server-sdk";
import type { FlagSource } from "./source.ts";

/** `feature_flag.provider.name` of every evaluation this provider makes. */
export const PROVIDER_NAME = "flagd-file";

/** Evaluates the flags of a {@linkcode FlagSource}; emits a change event when they change. */
export class FlagdFileProvider implements Provider {
  readonly metadata = { name: PROVIDER_NAME } as const;
  readonly runsOn = "server" as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly #core: FlagdCore;
  readonly #unsubscribe: () => void;

  constructor(source: FlagSource) {
    this.#core = new FlagdCore(source.storage);
    this.#unsubscribe = source.onChange((flagsChanged) =>
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged })
    );
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
    logger: Logger,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(
      this.#core.resolveBooleanEvaluation(flagKey, defaultValue, context, logger),
    );
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
    logger: Logger,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(
      this.#core.resolveStringEvaluation(flagKey, defaultValue, context, logger),
    );
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
    logger: Logger,
  ): Promise<ResolutionDetails<number>> {
    return Promise.resolve(
      this.#core.resolveNumberEvaluation(flagKey, defaultValue, context, logger),
    );
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    logger: Logger,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(
      this.#core.resolveObjectEvaluation(flagKey, defaultValue, context, logger),
    );
  }

  onClose(): Promise<void> {
    this.#unsubscribe();
    return Promise.resolve();
  }
}
