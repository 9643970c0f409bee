/**
 * OTLP/HTTP ingest on the console port, fed by real exporters: a separate process instrumented
 * only by Deno's built-in OpenTelemetry (its defaults: http/protobuf), and the project's own
 * OTLP/JSON exporters; then gzip, the JSON quirks, partial success, bad bodies, limits, and the
 * token on a non-loopback bind.
 */
import assert from "node:assert/strict";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import type { LogRecordEntry, TraceDetail, TraceListItem } from "../runtime/console/model.ts";
import { otlpTypes } from "../runtime/console/otlp_schema.ts";
import { type ConsoleServer, serveConsole } from "../runtime/console/server.ts";
import { ConsoleStore } from "../runtime/console/store.ts";
import { waitFor } from "../testing/wait.ts";

function startConsole(options: { hostname?: string; maxIngestBytes?: number } = {}) {
  const store = new ConsoleStore();
  const server = serveConsole({
    store,
    hostname: options.hostname ?? "127.0.0.1",
    port: 0,
    maxIngestBytes: options.maxIngestBytes,
  });
  return {
    store,
    server,
    base: `http://127.0.0.1:${server.port}`,
    async stop() {
      store.close();
      await server.stop();
    },
  };
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers });
  assert.equal(response.status, 200, url);
  return await response.json();
}

Deno.test({
  name: "ingest: a process instrumented only by Deno's built-in OpenTelemetry (protobuf)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const console = startConsole();
    const dir = await Deno.makeTempDir({ prefix: "console-ingest-" });
    try {
      const script = `${dir}/child.ts`;
      await Deno.writeTextFile(
        script,
        `const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => {
  console.log("handling ping");
  return new Response("pong");
});
const response = await fetch(\`http://127.0.0.1:\${server.addr.port}/ping\`);
console.log("child got", await response.text());
await server.shutdown();
`,
      );
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", script],
        env: {
          OTEL_DENO: "true",
          OTEL_SERVICE_NAME: "deno-child",
          OTEL_EXPORTER_OTLP_ENDPOINT: console.server.endpoint,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));

      const detail = await waitFor("the child's trace", async () => {
        const { traces } = await getJson<{ traces: TraceListItem[] }>(
          `${console.base}/api/traces?service=deno-child`,
        );
        const row = traces.find((t) => t.spanCount >= 2);
        return row && await getJson<TraceDetail>(`${console.base}/api/traces/${row.traceId}`);
      });
      const server = detail.spans.find((s) => s.kind === "server")!;
      const client = detail.spans.find((s) => s.kind === "client")!;
      assert.ok(server && client, JSON.stringify(detail.spans.map((s) => [s.kind, s.name])));
      assert.equal(server.parentSpanId, client.spanId, "the SERVER span is the CLIENT's child");
      assert.equal(server.service, "deno-child");
      assert.equal(server.resource["service.name"], "deno-child");
      assert.ok(server.durationMs > 0 && server.start > Date.now() - 60_000);
      assert.equal(server.attributes["http.request.method"], "GET");

      const { logs } = await getJson<{ logs: LogRecordEntry[] }>(
        `${console.base}/api/logs?service=deno-child&q=handling`,
      );
      assert.equal(logs.length, 1);
      assert.match(logs[0].body, /handling ping/);
      assert.equal(logs[0].traceId, detail.traceId, "the log carries its span's trace");
      assert.ok(detail.logs.some((log) => log.body.includes("handling ping")));
      await waitFor(
        "the child's metrics",
        () => console.store.stats().metricPoints.kept > 0 ? true : undefined,
      );
    } finally {
      await console.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("ingest: the project's OTLP/JSON trace and log exporters", async () => {
  const console = startConsole();
  try {
    const resource = resourceFromAttributes({ "service.name": "json-client" });
    const provider = new BasicTracerProvider({
      resource,
      spanProcessors: [
        new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${console.base}/v1/traces` })),
      ],
    });
    const tracer = provider.getTracer("ingest-test", "1.2.3");
    const parent = tracer.startSpan("POST /Message", {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": "POST", "message.count": 3, "ok": true },
    });
    const child = tracer.startSpan(
      "send Purchase",
      { kind: SpanKind.PRODUCER, attributes: { tags: ["a", "b"] } },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.addEvent("retry", { attempt: 2 });
    child.end();
    parent.end();
    const loggers = new LoggerProvider({
      resource,
      processors: [
        new SimpleLogRecordProcessor({
          exporter: new OTLPLogExporter({ url: `${console.base}/v1/logs` }),
        }),
      ],
    });
    loggers.getLogger("ingest-test").emit({
      severityNumber: SeverityNumber.WARN,
      severityText: "WARN",
      body: "slow downstream",
      attributes: { "message.id": "m-1" },
      context: trace.setSpan(ROOT_CONTEXT, parent),
    });
    await provider.forceFlush();
    await loggers.forceFlush();

    const traceId = parent.spanContext().traceId;
    const detail = await waitFor("the JSON-exported trace", async () => {
      const response = await fetch(`${console.base}/api/traces/${traceId}`);
      if (response.status !== 200) return void await response.body?.cancel();
      const body: TraceDetail = await response.json();
      return body.spans.length === 2 && body.logs.length === 1 ? body : undefined;
    });
    const server = detail.spans.find((s) => s.kind === "server")!;
    const producer = detail.spans.find((s) => s.kind === "producer")!;
    assert.ok(server && producer);
    assert.equal(server.spanId, parent.spanContext().spanId);
    assert.deepEqual(server.attributes, {
      "http.request.method": "POST",
      "message.count": 3,
      "ok": true,
    });
    assert.deepEqual(server.scope, { name: "ingest-test", version: "1.2.3" });
    assert.equal(producer.kind, "producer");
    assert.equal(producer.parentSpanId, server.spanId);
    assert.deepEqual(producer.attributes.tags, ["a", "b"]);
    assert.equal(producer.events[0].name, "retry");
    assert.equal(producer.events[0].attributes.attempt, 2);
    assert.equal(detail.logs[0].severity, "warn");
    assert.equal(detail.logs[0].body, "slow downstream");
    assert.equal(detail.logs[0].spanId, server.spanId);
    assert.equal(detail.logs[0].attributes["message.id"], "m-1");
    await provider.shutdown();
    await loggers.shutdown();
  } finally {
    await console.stop();
  }
});

/** An OTLP/JSON request in the forms some exporters use: base64 ids, enum names, int64 text. */
function protobufJsonStyle(traceIdBase64: string, spanIdBase64: string) {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "quirky" } }] },
      scopeSpans: [{
        spans: [{
          traceId: traceIdBase64,
          spanId: spanIdBase64,
          name: "GET /things",
          kind: "SPAN_KIND_SERVER",
          startTimeUnixNano: "1700000000000000000",
          endTimeUnixNano: "1700000000012345678",
          attributes: [{ key: "http.response.status_code", value: { intValue: "200" } }],
          status: { code: "STATUS_CODE_ERROR", message: "boom" },
        }],
      }],
    }],
  };
}

async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).arrayBuffer();
}

Deno.test("ingest: gzip, base64 ids, enum names and int64 strings; partial success", async () => {
  const console = startConsole();
  try {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const idBytes = (hex: string) =>
      btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));
    const body = protobufJsonStyle(idBytes(traceId), idBytes("b7ad6b7169203331"));
    const response = await fetch(`${console.base}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: await gzip(JSON.stringify(body)),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(await response.json(), {});
    const span = console.store.trace(traceId)!.spans[0];
    assert.equal(span.spanId, "b7ad6b7169203331");
    assert.equal(span.kind, "server");
    assert.equal(span.status, "error");
    assert.equal(span.statusMessage, "boom");
    assert.equal(span.start, 1_700_000_000_000);
    assert.ok(Math.abs(span.durationMs - 12.345678) < 1e-6, String(span.durationMs));
    assert.equal(span.attributes["http.response.status_code"], 200);

    // One good span and one with a 3-byte trace id: the good one is kept, the other counted.
    const mixed = protobufJsonStyle(traceId.replace(/^0/, "1"), "b7ad6b7169203332");
    mixed.resourceSpans[0].scopeSpans[0].spans.push({
      ...mixed.resourceSpans[0].scopeSpans[0].spans[0],
      traceId: "abcdef",
    });
    const partial = await fetch(`${console.base}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(mixed),
    });
    const answer = await partial.json();
    assert.equal(partial.status, 200);
    assert.equal(answer.partialSuccess.rejectedSpans, "1");
    assert.match(answer.partialSuccess.errorMessage, /traceId/);
    assert.ok(console.store.trace(traceId.replace(/^0/, "1")));

    // The same in protobuf: the answer is an ExportTraceServiceResponse in protobuf.
    const request = otlpTypes.traceRequest.fromObject({
      resourceSpans: [{
        scopeSpans: [{
          spans: [
            { traceId: new Uint8Array(16).fill(7), spanId: new Uint8Array(8).fill(1), name: "a" },
            { traceId: new Uint8Array(3), spanId: new Uint8Array(8).fill(2), name: "b" },
          ],
        }],
      }],
    });
    const proto = await fetch(`${console.base}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: new Uint8Array(otlpTypes.traceRequest.encode(request).finish()).buffer,
    });
    assert.equal(proto.status, 200);
    assert.equal(proto.headers.get("content-type"), "application/x-protobuf");
    const decoded = otlpTypes.traceResponse.toObject(
      otlpTypes.traceResponse.decode(new Uint8Array(await proto.arrayBuffer())),
      { longs: Number },
    );
    assert.equal((decoded.partialSuccess as { rejectedSpans: number }).rejectedSpans, 1);
    assert.equal(console.store.trace("07".repeat(16))?.spans[0].service, "unknown_service");
  } finally {
    await console.stop();
  }
});

Deno.test("ingest: bad bodies 400, too large 413 (also after gunzip), other types 415", async () => {
  const console = startConsole({ maxIngestBytes: 1024 });
  const post = async (path: string, headers: Record<string, string>, body: BodyInit) => {
    const response = await fetch(`${console.base}${path}`, { method: "POST", headers, body });
    const text = await response.text();
    return { status: response.status, text };
  };
  const json = { "content-type": "application/json" };
  const protobuf = { "content-type": "application/x-protobuf" };
  try {
    for (
      const [path, headers, body, status, word] of [
        ["/v1/traces", json, "{not json", 400, "OTLP/JSON"],
        ["/v1/logs", json, "[1, 2]", 400, "export request"],
        [
          "/v1/metrics",
          protobuf,
          new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
          400,
          "protobuf",
        ],
        ["/v1/traces", { ...json, "content-encoding": "gzip" }, "not gzip", 400, "gzip"],
        ["/v1/traces", json, "x".repeat(2048), 413, "1024"],
        [
          "/v1/traces",
          { ...json, "content-encoding": "gzip" },
          await gzip(" ".repeat(4096)),
          413,
          "uncompressed",
        ],
        ["/v1/traces", { "content-type": "text/plain" }, "{}", 415, "application/json"],
        ["/v1/traces", { ...json, "content-encoding": "br" }, "{}", 415, "gzip"],
      ] as const
    ) {
      const result = await post(path, headers, body as BodyInit);
      assert.equal(result.status, status, `${path} ${JSON.stringify(headers)}: ${result.text}`);
      assert.match(JSON.parse(result.text).error, new RegExp(word));
    }
    const get = await fetch(`${console.base}/v1/traces`);
    assert.equal(get.status, 405);
    await get.body?.cancel();
    assert.equal(console.store.stats().spans.kept, 0);
  } finally {
    await console.stop();
  }
});

Deno.test("a console bound off loopback needs its token, also for ingest", async () => {
  const console = startConsole({ hostname: "0.0.0.0" });
  try {
    const server: ConsoleServer = console.server;
    assert.ok(server.token && server.token.length >= 32);
    assert.ok(server.url.endsWith(`/?token=${server.token}`));
    const denied = await fetch(`${console.base}/api/stats`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    await getJson(`${console.base}/api/stats`, { authorization: `Bearer ${server.token}` });
    const ingest = await fetch(`${console.base}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(ingest.status, 401);
    await ingest.body?.cancel();
    const first = await fetch(`${console.base}/?token=${server.token}`, { redirect: "manual" });
    assert.equal(first.status, 303);
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    await first.body?.cancel();
    await getJson(`${console.base}/api/traces`, { cookie });
  } finally {
    await console.stop();
  }
});
