/**
 * Fault flags: flagd flag definitions in `FLAGS_FILE` (default `flags.json`), evaluated through the
 * OpenFeature server SDK by an in-process flagd-core provider, reloaded when the file changes, and
 * listed and switched over `GET /api/flags` and `PUT /api/flags/:name`.
 *
 * Each host gets its own OpenFeature domain, so hosts in one process (tests) never share flags.
 *
 * @example
 * ```ts
 * import { startFlags } from "./mod.ts";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, JSON.stringify({
 *   flags: { app1SlowMs: { state: "ENABLED", variants: { off: 0, "1s": 1000 }, defaultVariant: "1s" } },
 * }));
 * const flags = await startFlags(file, console);
 * console.log(await flags.forService("app1", console).number("app1SlowMs")); // 1000
 * await flags.close();
 * ```
 * @module
 */
import { NOOP_PROVIDER, OpenFeature } from "@openfeature/server-sdk";
import type { Flags } from "../function.ts";
import { FlagdFileProvider } from "./provider.ts";
import { FlagSource, type SourceLog } from "./source.ts";
import { functionFlags } from "./function_flags.ts";

export { flagRoutes } from "./api.ts";
export type { FlagValue, FlagView } from "./definitions.ts";
export { FlagChangeError, FlagSource, type SourceStatus } from "./source.ts";
export { PROVIDER_NAME } from "./provider.ts";

/** A host's flags: the file, and the flags capability of each service's functions. */
export interface HostFlags {
  readonly source: FlagSource;
  /** The `flags` of `service`'s function context; evaluations carry `service` for targeting. */
  forService(service: string, log: SourceLog): Flags;
  close(): Promise<void>;
}

/** Loads `file`, watches it, and registers its provider under a domain of this host's own. */
export async function startFlags(file: string, log: SourceLog): Promise<HostFlags> {
  const source = await FlagSource.open(file, { log });
  const domain = `host-${crypto.randomUUID()}`;
  await OpenFeature.setProviderAndWait(domain, new FlagdFileProvider(source));
  return {
    source,
    forService: (service, serviceLog) =>
      functionFlags(OpenFeature.getClient(domain, { service }), serviceLog),
    async close() {
      source.close();
      // Replacing the provider closes ours and lets the domain's clients fall back to "off".
      await OpenFeature.setProviderAndWait(domain, NOOP_PROVIDER);
    },
  };
}
