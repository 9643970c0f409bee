import assert from "node:assert/strict";
import { decodeLogs, decodeMetrics, decodeTraces } from "./otlp_decode.ts";

const resource = { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] };
const attrs = (key: string, value: string) => [{ key, value: { stringValue: value } }];

Deno.test("decodeMetrics: gauges, sums, histograms, exponential histograms and summaries", () => {
  const { items, rejected, error } = decodeMetrics({
    resourceMetrics: [{
      resource,
      scopeMetrics: [{
        metrics: [
          {
            name: "g",
            unit: "1",
            gauge: { dataPoints: [{ asInt: "7", timeUnixNano: "2000000" }] },
          },
          {
            name: "c",
            sum: {
              isMonotonic: true,
              aggregationTemporality: 2,
              dataPoints: [{ asDouble: 1.5, attributes: attrs("route", "/a") }],
            },
          },
          {
            name: "d",
            sum: {
              isMonotonic: false,
              aggregationTemporality: "AGGREGATION_TEMPORALITY_DELTA",
              dataPoints: [{ asInt: 2 }],
            },
          },
          {
            name: "h",
            histogram: {
              aggregationTemporality: 1,
              dataPoints: [{
                count: "6",
                sum: 3,
                explicitBounds: [0.1, 1],
                bucketCounts: ["1", "2", "3"],
                timeUnixNano: "4000000",
              }],
            },
          },
          { name: "e", exponentialHistogram: { dataPoints: [{ count: 4, sum: 2 }] } },
          { name: "s", summary: { dataPoints: [{ count: 5, sum: 1 }] } },
          { name: "", gauge: { dataPoints: [{ asInt: 1 }] } },
          { name: "nothing" },
        ],
      }],
    }],
  });
  assert.equal(rejected, 1);
  assert.equal(error, "metrics need a name");
  assert.deepEqual(items, [
    {
      point: { service: "svc", name: "g", unit: "1", time: 2, kind: "gauge", labels: {}, value: 7 },
      delta: false,
    },
    {
      point: {
        service: "svc",
        name: "c",
        time: 0,
        kind: "counter",
        labels: { route: "/a" },
        value: 1.5,
      },
      delta: false,
    },
    {
      point: { service: "svc", name: "d", time: 0, kind: "gauge", labels: {}, value: 2 },
      delta: true,
    },
    {
      point: {
        service: "svc",
        name: "h",
        time: 4,
        kind: "histogram",
        labels: {},
        count: 6,
        sum: 3,
        buckets: [{ le: 0.1, count: 1 }, { le: 1, count: 3 }],
      },
      delta: true,
    },
    {
      point: {
        service: "svc",
        name: "e",
        time: 0,
        kind: "histogram",
        labels: {},
        count: 4,
        sum: 2,
      },
      delta: false,
    },
    {
      point: {
        service: "svc",
        name: "s",
        time: 0,
        kind: "histogram",
        labels: {},
        count: 5,
        sum: 1,
      },
      delta: false,
    },
  ]);
});

Deno.test("decodeTraces: the scope and resource of each span; bad ids rejected with a reason", () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const { items, rejected, error } = decodeTraces({
    resourceSpans: [{
      resource,
      scopeSpans: [
        {
          scope: { name: "lib", version: "1.0" },
          spans: [
            { traceId, spanId: "b7ad6b7169203331", name: "a", kind: "SPAN_KIND_SERVER" },
            { traceId: "short", spanId: "b7ad6b7169203331" },
          ],
        },
        {
          spans: [{ traceId, spanId: "c7ad6b7169203331", name: "b", kind: 3, status: { code: 2 } }],
        },
      ],
    }],
  });
  assert.equal(rejected, 1);
  assert.match(error!, /16-byte traceId/);
  assert.deepEqual(items.map((s) => [s.name, s.kind, s.status, s.service, s.scope]), [
    ["a", "server", "unset", "svc", { name: "lib", version: "1.0" }],
    ["b", "client", "error", "svc", undefined],
  ]);
  assert.equal(items[0].resource["service.name"], "svc");
});

Deno.test("decodeLogs: records of each resource; a malformed span id is rejected", () => {
  const { items, rejected, error } = decodeLogs({
    resourceLogs: [
      {
        resource,
        scopeLogs: [{
          logRecords: [
            { timeUnixNano: "5000000", severityNumber: 17, body: { stringValue: "boom" } },
            { spanId: "xyz", body: { stringValue: "lost" } },
          ],
        }],
      },
      { scopeLogs: [{ logRecords: [{ severityText: "WARNING", eventName: "evt" }] }] },
    ],
  });
  assert.equal(rejected, 1);
  assert.match(error!, /spanId 8 bytes/);
  assert.deepEqual(items.map((r) => [r.service, r.severity, r.body]), [
    ["svc", "error", "boom"],
    ["unknown_service", "warn", ""],
  ]);
  assert.equal(items[0].time, 5);
  assert.throws(() => decodeLogs([]), /not an OTLP logs request/);
});

Deno.test("decodeTraces: kinds and status codes by OTLP number or name", () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const cases: [unknown, unknown][] = [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [4, "STATUS_CODE_OK"],
    [5, "STATUS_CODE_ERROR"],
    [6, "STATUS_CODE_UNSET"],
    ["SPAN_KIND_UNSPECIFIED", "bogus"],
    ["SPAN_KIND_CONSUMER", undefined],
  ];
  const { items } = decodeTraces({
    resourceSpans: [{
      scopeSpans: [{
        spans: cases.map(([kind, code], i) => ({
          traceId,
          spanId: (i + 1).toString(16).padStart(16, "0"),
          kind,
          status: { code },
        })),
      }],
    }],
  });
  assert.deepEqual(items.map((s) => [s.kind, s.status]), [
    ["internal", "unset"],
    ["internal", "ok"],
    ["server", "error"],
    ["client", "unset"],
    ["producer", "ok"],
    ["consumer", "error"],
    ["internal", "unset"],
    ["internal", "unset"],
    ["consumer", "unset"],
  ]);
});
