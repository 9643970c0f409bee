/**
 * The OTLP v1 messages the console decodes, as a protobufjs descriptor: message and field names
 * (in the lowerCamelCase OTLP/JSON also uses) with the field numbers and types of the official
 * opentelemetry-proto schema (`opentelemetry/proto/{common,resource,trace,logs,metrics}/v1` and
 * the `collector/*` services). No npm package ships a decoder for OTLP requests (the exporters'
 * `@opentelemetry/otlp-transformer` only writes them), so protobufjs, a maintained protobuf
 * runtime, decodes with this. Fields not listed here are skipped by the decoder, as protobuf
 * readers skip unknown fields.
 *
 * @example
 * ```ts
 * import { otlpTypes } from "./otlp_schema.ts";
 * const bytes = otlpTypes.traceResponse.encode({}).finish();
 * console.log(bytes.length); // 0
 * ```
 * @module
 */
import protobuf from "protobufjs";

const keyValues = (id: number) => ({ rule: "repeated", type: "KeyValue", id });
const f = (type: string, id: number) => ({ type, id });
const repeated = (type: string, id: number) => ({ rule: "repeated", type, id });

const descriptor = {
  nested: {
    AnyValue: {
      oneofs: {
        value: {
          oneof: [
            "stringValue",
            "boolValue",
            "intValue",
            "doubleValue",
            "arrayValue",
            "kvlistValue",
            "bytesValue",
          ],
        },
      },
      fields: {
        stringValue: f("string", 1),
        boolValue: f("bool", 2),
        intValue: f("int64", 3),
        doubleValue: f("double", 4),
        arrayValue: f("ArrayValue", 5),
        kvlistValue: f("KeyValueList", 6),
        bytesValue: f("bytes", 7),
      },
    },
    ArrayValue: { fields: { values: repeated("AnyValue", 1) } },
    KeyValueList: { fields: { values: keyValues(1) } },
    KeyValue: { fields: { key: f("string", 1), value: f("AnyValue", 2) } },
    InstrumentationScope: {
      fields: { name: f("string", 1), version: f("string", 2), attributes: keyValues(3) },
    },
    Resource: { fields: { attributes: keyValues(1) } },

    ResourceSpans: {
      fields: { resource: f("Resource", 1), scopeSpans: repeated("ScopeSpans", 2) },
    },
    ScopeSpans: { fields: { scope: f("InstrumentationScope", 1), spans: repeated("Span", 2) } },
    Span: {
      fields: {
        traceId: f("bytes", 1),
        spanId: f("bytes", 2),
        traceState: f("string", 3),
        parentSpanId: f("bytes", 4),
        name: f("string", 5),
        kind: f("int32", 6),
        startTimeUnixNano: f("fixed64", 7),
        endTimeUnixNano: f("fixed64", 8),
        attributes: keyValues(9),
        events: repeated("SpanEvent", 11),
        links: repeated("SpanLink", 13),
        status: f("Status", 15),
      },
    },
    SpanEvent: {
      fields: { timeUnixNano: f("fixed64", 1), name: f("string", 2), attributes: keyValues(3) },
    },
    SpanLink: {
      fields: { traceId: f("bytes", 1), spanId: f("bytes", 2), attributes: keyValues(4) },
    },
    Status: { fields: { message: f("string", 2), code: f("int32", 3) } },

    ResourceLogs: {
      fields: { resource: f("Resource", 1), scopeLogs: repeated("ScopeLogs", 2) },
    },
    ScopeLogs: {
      fields: { scope: f("InstrumentationScope", 1), logRecords: repeated("LogRecord", 2) },
    },
    LogRecord: {
      fields: {
        timeUnixNano: f("fixed64", 1),
        severityNumber: f("int32", 2),
        severityText: f("string", 3),
        body: f("AnyValue", 5),
        attributes: keyValues(6),
        traceId: f("bytes", 9),
        spanId: f("bytes", 10),
        observedTimeUnixNano: f("fixed64", 11),
        eventName: f("string", 12),
      },
    },

    ResourceMetrics: {
      fields: { resource: f("Resource", 1), scopeMetrics: repeated("ScopeMetrics", 2) },
    },
    ScopeMetrics: {
      fields: { scope: f("InstrumentationScope", 1), metrics: repeated("Metric", 2) },
    },
    Metric: {
      fields: {
        name: f("string", 1),
        description: f("string", 2),
        unit: f("string", 3),
        gauge: f("Gauge", 5),
        sum: f("Sum", 7),
        histogram: f("Histogram", 9),
        exponentialHistogram: f("ExponentialHistogram", 10),
        summary: f("Summary", 11),
      },
    },
    Gauge: { fields: { dataPoints: repeated("NumberDataPoint", 1) } },
    Sum: {
      fields: {
        dataPoints: repeated("NumberDataPoint", 1),
        aggregationTemporality: f("int32", 2),
        isMonotonic: f("bool", 3),
      },
    },
    Histogram: {
      fields: {
        dataPoints: repeated("HistogramDataPoint", 1),
        aggregationTemporality: f("int32", 2),
      },
    },
    ExponentialHistogram: {
      fields: {
        dataPoints: repeated("ExponentialHistogramDataPoint", 1),
        aggregationTemporality: f("int32", 2),
      },
    },
    Summary: { fields: { dataPoints: repeated("SummaryDataPoint", 1) } },
    NumberDataPoint: {
      fields: {
        timeUnixNano: f("fixed64", 3),
        asDouble: f("double", 4),
        asInt: f("sfixed64", 6),
        attributes: keyValues(7),
      },
    },
    HistogramDataPoint: {
      fields: {
        timeUnixNano: f("fixed64", 3),
        count: f("fixed64", 4),
        sum: f("double", 5),
        bucketCounts: repeated("fixed64", 6),
        explicitBounds: repeated("double", 7),
        attributes: keyValues(9),
      },
    },
    ExponentialHistogramDataPoint: {
      fields: {
        attributes: keyValues(1),
        timeUnixNano: f("fixed64", 3),
        count: f("fixed64", 4),
        sum: f("double", 5),
      },
    },
    SummaryDataPoint: {
      fields: {
        timeUnixNano: f("fixed64", 3),
        count: f("fixed64", 4),
        sum: f("double", 5),
        attributes: keyValues(7),
      },
    },

    ExportTraceServiceRequest: { fields: { resourceSpans: repeated("ResourceSpans", 1) } },
    ExportLogsServiceRequest: { fields: { resourceLogs: repeated("ResourceLogs", 1) } },
    ExportMetricsServiceRequest: {
      fields: { resourceMetrics: repeated("ResourceMetrics", 1) },
    },
    ExportTraceServiceResponse: { fields: { partialSuccess: f("TracePartialSuccess", 1) } },
    TracePartialSuccess: {
      fields: { rejectedSpans: f("int64", 1), errorMessage: f("string", 2) },
    },
    ExportLogsServiceResponse: { fields: { partialSuccess: f("LogsPartialSuccess", 1) } },
    LogsPartialSuccess: {
      fields: { rejectedLogRecords: f("int64", 1), errorMessage: f("string", 2) },
    },
    ExportMetricsServiceResponse: { fields: { partialSuccess: f("MetricsPartialSuccess", 1) } },
    MetricsPartialSuccess: {
      fields: { rejectedDataPoints: f("int64", 1), errorMessage: f("string", 2) },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

/** The request and response types of the three OTLP export services. */
export const otlpTypes = {
  traceRequest: root.lookupType("ExportTraceServiceRequest"),
  logsRequest: root.lookupType("ExportLogsServiceRequest"),
  metricsRequest: root.lookupType("ExportMetricsServiceRequest"),
  traceResponse: root.lookupType("ExportTraceServiceResponse"),
  logsResponse: root.lookupType("ExportLogsServiceResponse"),
  metricsResponse: root.lookupType("ExportMetricsServiceResponse"),
} as const;
