/**
 * Who emits the telemetry: the OpenTelemetry resource of each service and the instrumentation
 * scope of the host, both stamped with the project's version (deno.json) and the semantic
 * conventions version they follow.
 *
 * @example
 * ```ts
 * import { serviceResource, SCOPE } from "./resource.ts";
 * const resource = serviceResource("app1");
 * console.log(resource.attributes["service.version"], SCOPE.schemaUrl);
 * ```
 * @module
 */
import {
  defaultResource,
  detectResources,
  envDetector,
  type Resource,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import project from "../../deno.json" with { type: "json" };

/** The semantic conventions release the telemetry follows. */
export const SEMCONV_VERSION = "1.44.0";

/** The instrumentation scope of every span and log record the host emits. */
export const SCOPE = {
  name: "otel-functions-runtime",
  version: project.version,
  schemaUrl: `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`,
} as const;

/** `deployment.environment.name` unless `OTEL_RESOURCE_ATTRIBUTES` says otherwise. */
export const DEFAULT_ENVIRONMENT = "development";

/**
 * The resource of `service`: the SDK's defaults (`telemetry.sdk.*`), then the host's
 * (`service.namespace`, `service.version`, `deployment.environment.name`), then
 * `OTEL_RESOURCE_ATTRIBUTES` (read by the SDK's env detector), which may override any of those;
 * `service.name`, `service.instance.id` and the process and host attributes are always this
 * process's own.
 */
export function serviceResource(service: string): Resource {
  return defaultResource().merge(resourceFromAttributes({
    "service.namespace": "otel-functions",
    "service.version": project.version,
    "deployment.environment.name": DEFAULT_ENVIRONMENT,
  })).merge(detectResources({ detectors: [envDetector] })).merge(resourceFromAttributes({
    "service.name": service,
    "service.instance.id": `${Deno.hostname()}:${Deno.pid}:${service}`,
    "process.pid": Deno.pid,
    "process.runtime.name": "deno",
    "process.runtime.version": Deno.version.deno,
    "host.name": Deno.hostname(),
  }));
}
