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
import type {
  EvaluationContext,
  FlagValue,
  FlagValueType,
  Logger,
  ResolutionDetails,
} from "@openfeature/core";
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

  readonly resolveBooleanEvaluation = this.#resolver("boolean");
  readonly resolveStringEvaluation = this.#resolver("string");
  readonly resolveNumberEvaluation = this.#resolver("number");
  readonly resolveObjectEvaluation = this.#resolver("object");

  /** Evaluations of flags of `type`: flagd's core checks the variant's type against it. */
  #resolver(type: FlagValueType) {
    return <T extends FlagValue>(
      flagKey: string,
      defaultValue: T,
      context: EvaluationContext,
      logger: Logger,
    ): Promise<ResolutionDetails<T>> =>
      Promise.resolve(this.#core.resolve(type, flagKey, defaultValue, context, logger));
  }

  onClose(): Promise<void> {
    this.#unsubscribe();
    return Promise.resolve();
  }
}
