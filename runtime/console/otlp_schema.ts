/**
 * The OTLP v1 export requests and responses the console reads and answers, as protobufjs
 * generated them from the official opentelemetry-proto schema. They come from
 * `@opentelemetry/otlp-transformer` 0.214.0, the last release that ships the generated schema of
 * all three signals (later releases encode requests by hand and read nothing), pinned so the
 * deep import cannot move. Decoding skips fields the schema does not know, as protobuf readers do.
 *
 * @example
 * ```ts
 * import { otlpTypes } from "./otlp_schema.ts";
 * const bytes = otlpTypes.traceResponse.encode({}).finish();
 * console.log(bytes.length); // 0
 * ```
 * @module
 */
import generated from "@opentelemetry/otlp-transformer/build/src/generated/root.js";

/** What the console uses of a generated message class (its typings say only `Root`). */
export interface OtlpMessageType {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): unknown;
  toObject(message: unknown, options?: { longs?: unknown }): Record<string, unknown>;
}

type Service = Record<string, OtlpMessageType>;
const collector = (generated as unknown as {
  opentelemetry: { proto: { collector: Record<"trace" | "logs" | "metrics", { v1: Service }> } };
}).opentelemetry.proto.collector;

/** The request and response types of the three OTLP export services. */
export const otlpTypes: Readonly<
  Record<
    | "traceRequest"
    | "logsRequest"
    | "metricsRequest"
    | "traceResponse"
    | "logsResponse"
    | "metricsResponse",
    OtlpMessageType
  >
> = {
  traceRequest: collector.trace.v1.ExportTraceServiceRequest,
  logsRequest: collector.logs.v1.ExportLogsServiceRequest,
  metricsRequest: collector.metrics.v1.ExportMetricsServiceRequest,
  traceResponse: collector.trace.v1.ExportTraceServiceResponse,
  logsResponse: collector.logs.v1.ExportLogsServiceResponse,
  metricsResponse: collector.metrics.v1.ExportMetricsServiceResponse,
};
