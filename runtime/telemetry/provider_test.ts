import assert from "node:assert/strict";
import project from "../../deno.json" with { type: "json" };
import { context, ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { OtlpReceiver } from "../../testing/otlp_receiver.ts";
import { metricValue } from "../_test_util.ts";
import { freePort } from "../../testing/port.ts";
import { loadConfig, type LogLevel } from "../config.ts";
import { createServiceTelemetry, ExportStatus } from "./provider.ts";
import { DEFAULT_ENVIRONMENT, SCOPE, SEMCONV_VERSION, serviceResource } from "./resource.ts";

/** Runs `fn` with the process environment changed as `vars` say, then puts it back. */
async function withEnv<T>(vars: Record<string, string>, fn: () => T | Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  for (const [name, value] of Object.entries(vars)) Deno.env.set(name, value);
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

Deno.test({
  name:
    "createServiceTelemetry: the SDK samples as OTEL_TRACES_SAMPLER(_ARG) in the environment say",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cases: Array<[Record<string, string>, boolean]> = [
      [{ OTEL_TRACES_SAMPLER: "parentbased_always_on" }, true],
      [{ OTEL_TRACES_SAMPLER: "always_off" }, false],
      [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }, false],
      [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" }, true],
      [{ OTEL_TRACES_SAMPLER: "parentbased_always_off" }, false],
    ];
    const receiver = await OtlpReceiver.start();
    try {
      for (const [vars, recording] of cases) {
        await withEnv(vars, async () => {
          const config = loadConfig({ ...vars, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
          const telemetry = createServiceTelemetry("app1", config, new ExportStatus(() => {}));
          const span = telemetry.tracer.startSpan("root");
          assert.equal(span.isRecording(), recording, JSON.stringify(vars));
          span.end();
          await telemetry.shutdown();
        });
      }
    } finally {
      await receiver.stop();
    }
  },
});

Deno.test({
  name: "createServiceTelemetry: traceidratio from the environment samples about its share",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const vars = { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" };
    await withEnv(vars, async () => {
      const config = loadConfig({ ...vars, OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
      const telemetry = createServiceTelemetry("app1", config, new ExportStatus(() => {}));
      let sampled = 0;
      const total = 4000;
      for (let i = 0; i < total; i++) {
        if (telemetry.tracer.startSpan("s").isRecording()) sampled++; // never ended: not exported
      }
      assert.ok(sampled > total * 0.2 && sampled < total * 0.3, `${sampled} of ${total} sampled`);
      await telemetry.shutdown();
    });
  },
});

Deno.test("ExportStatus: reports once when an endpoint starts failing and once when it recovers", () => {
  const reports: Array<[LogLevel, string, Record<string, unknown>]> = [];
  const status = new ExportStatus((level, message, fields) =>
    reports.push([level, message, fields])
  );
  const ok = { code: ExportResultCode.SUCCESS };
  const failed = { code: ExportResultCode.FAILED, error: new Error("connect ECONNREFUSED") };
  const endpoint = "http://collector:4318/v1/traces";
  status.record("traces", endpoint, ok);
  assert.equal(reports.length, 0, "success while healthy is not news");
  status.record("traces", endpoint, failed);
  status.record("traces", endpoint, failed);
  status.record("traces", endpoint, { code: ExportResultCode.FAILED });
  assert.equal(reports.length, 1);
  assert.equal(reports[0][0], "warn");
  assert.match(reports[0][1], /OTLP export failing/);
  assert.deepEqual(reports[0][2], { signal: "traces", endpoint, error: "connect ECONNREFUSED" });
  status.record("traces", endpoint, ok);
  status.record("traces", endpoint, ok);
  assert.equal(reports.length, 2);
  assert.deepEqual(reports[1], ["info", "OTLP export recovered", { signal: "traces", endpoint }]);
  status.record("traces", endpoint, { code: ExportResultCode.FAILED });
  assert.equal(reports.length, 3);
  assert.equal(reports[2][2].error, "unknown");
});

Deno.test("ExportStatus: endpoints and errors are reported without credentials", () => {
  const reports: Array<Record<string, unknown>> = [];
  const status = new ExportStatus((_level, _message, fields) => reports.push(fields));
  const endpoint = "https://tenant:s3cret@otlp.example/v1/traces?api-key=s3cret";
  status.record("traces", endpoint, {
    code: ExportResultCode.FAILED,
    error: new Error(`POST ${endpoint} failed: 401`),
  });
  status.record("traces", endpoint, { code: ExportResultCode.SUCCESS });
  assert.equal(reports.length, 2);
  assert.ok(!JSON.stringify(reports).includes("s3cret"), JSON.stringify(reports));
  assert.equal(reports[0].endpoint, "https://***@otlp.example/v1/traces?api-key=***");
});

Deno.test("ExportStatus: each signal and endpoint is tracked on its own", () => {
  const reports: string[] = [];
  const status = new ExportStatus((level, _message, fields) =>
    reports.push(`${level} ${fields.signal} ${fields.endpoint}`)
  );
  const failed = { code: ExportResultCode.FAILED };
  status.record("traces", "http://a/v1/traces", failed);
  status.record("logs", "http://a/v1/logs", failed);
  status.record("traces", "http://b/v1/traces", failed);
  status.record("logs", "http://a/v1/logs", failed);
  status.record("logs", "http://a/v1/logs", { code: ExportResultCode.SUCCESS });
  assert.deepEqual(reports, [
    "warn traces http://a/v1/traces",
    "warn logs http://a/v1/logs",
    "warn traces http://b/v1/traces",
    "info logs http://a/v1/logs",
  ]);
});

Deno.test({
  name: "createServiceTelemetry: spans and logs reach an OTLP receiver with service.name",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const receiver = await OtlpReceiver.start();
    const lines: string[] = [];
    const telemetry = createServiceTelemetry(
      "app1",
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, LOG_LEVEL: "info" }),
      new ExportStatus(() => {}),
      (line) => lines.push(line),
    );
    try {
      let traceId = "";
      let spanId = "";
      telemetry.tracer.startActiveSpan("POST /Message", { kind: SpanKind.SERVER }, (span) => {
        traceId = span.spanContext().traceId;
        spanId = span.spanContext().spanId;
        span.setAttribute("http.route", "/Message");
        telemetry.log.info("message stored", { message_id: "m-1", attempt: 2, extra: { a: 1 } });
        telemetry.log.debug("below the level");
        span.end();
      });
      context.with(ROOT_CONTEXT, () => telemetry.log.warn("outside any span"));
      await telemetry.flush();

      assert.equal(receiver.spans.length, 1);
      const [span] = receiver.spans;
      assert.equal(span.service, "app1");
      assert.equal(span.name, "POST /Message");
      assert.equal(span.traceId, traceId);
      assert.equal(span.spanId, spanId);
      assert.equal(span.kind, 2);
      assert.equal(span.attributes["http.route"], "/Message");

      assert.equal(receiver.logs.length, 2);
      const [stored, outside] = receiver.logs;
      assert.equal(stored.service, "app1");
      assert.equal(stored.body, "message stored");
      assert.equal(stored.severityText, "INFO");
      assert.equal(stored.traceId, traceId);
      assert.equal(stored.spanId, spanId);
      assert.deepEqual(stored.attributes, { message_id: "m-1", attempt: 2, extra: '{"a":1}' });
      assert.equal(outside.severityText, "WARN");
      assert.equal(outside.traceId, undefined);
      // The same records went to stdout.
      assert.equal(lines.length, 2);
      assert.equal(JSON.parse(lines[0]).trace_id, traceId);
    } finally {
      await telemetry.shutdown();
      await receiver.stop();
    }
  },
});

Deno.test({
  name: "createServiceTelemetry: exported log records keep to the attribute limits and count drops",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const receiver = await OtlpReceiver.start();
    const lines: string[] = [];
    const telemetry = createServiceTelemetry(
      "app1",
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        LOG_LEVEL: "info",
        OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: "3",
        OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: "5",
      }),
      new ExportStatus(() => {}),
      (line) => lines.push(line),
    );
    try {
      telemetry.log.info("many fields", {
        a: "abcdefgh",
        b: 12345678,
        c: { nested: true },
        d: "dropped",
        e: 10n,
      });
      telemetry.log.info("within the limits", { a: "abc", big: 10n, deep: { n: 1n } });
      await telemetry.flush();
      assert.equal(receiver.logs.length, 2);
      const [many, within] = receiver.logs;
      // Strings cut to 5 characters, numbers untouched, JSON cut like any string; d and e dropped.
      assert.deepEqual(many.attributes, { a: "abcde", b: 12345678, c: '{"nes' });
      assert.equal(many.droppedAttributesCount, 2);
      assert.deepEqual(within.attributes, { a: "abc", big: "10", deep: '{"n":' });
      assert.equal(within.droppedAttributesCount, 0);
      // The stdout line is not OTLP and keeps every field.
      assert.equal(JSON.parse(lines[0]).d, "dropped");
    } finally {
      await telemetry.shutdown();
      await receiver.stop();
    }
  },
});

Deno.test("serviceResource: development unless OTEL_RESOURCE_ATTRIBUTES says otherwise", async () => {
  const plain = await withEnv({ OTEL_RESOURCE_ATTRIBUTES: "" }, () => serviceResource("app1"));
  assert.equal(plain.attributes["deployment.environment.name"], DEFAULT_ENVIRONMENT);
  assert.equal(plain.attributes["service.version"], project.version);
  const overridden = await withEnv({
    OTEL_RESOURCE_ATTRIBUTES:
      "deployment.environment.name=staging,service.version=2.0.0-rc.1,service.instance.id=x",
  }, () => serviceResource("app1"));
  assert.equal(overridden.attributes["deployment.environment.name"], "staging");
  assert.equal(overridden.attributes["service.version"], "2.0.0-rc.1", "a build may stamp it");
  assert.match(String(overridden.attributes["service.instance.id"]), /:app1$/, "ours");
});

Deno.test({
  name:
    "createServiceTelemetry: the resource names the service; the SDK reads OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const bodies: Array<{ path: string; tenant: string | null; body: Record<string, unknown> }> =
      [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
      const path = new URL(r.url).pathname;
      bodies.push({ path, tenant: r.headers.get("x-tenant"), body: await r.json() });
      return Response.json({});
    });
    const vars = {
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,service.name=ignored",
      OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=t1",
    };
    // The SDK reads these from the process environment: set them there while it starts.
    const telemetry = await withEnv(vars, () =>
      createServiceTelemetry(
        "app4",
        loadConfig({
          ...vars,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        }),
        new ExportStatus(() => {}),
        () => {},
      ));
    try {
      telemetry.tracer.startSpan("work").end();
      telemetry.log.info("hello");
      await telemetry.flush();
      assert.deepEqual(bodies.map((b) => b.path).sort(), ["/v1/logs", "/v1/traces"]);
      for (const { body, tenant } of bodies) {
        assert.equal(tenant, "t1", "OTEL_EXPORTER_OTLP_HEADERS are sent");
        const list = (body.resourceSpans ?? body.resourceLogs) as Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
        }>;
        const attributes = Object.fromEntries(
          list[0].resource.attributes.map(({ key, value }) => [key, value.stringValue]),
        );
        assert.equal(attributes["service.name"], "app4");
        assert.equal(attributes["service.namespace"], "otel-functions");
        assert.equal(attributes["deployment.environment.name"], "test");
        assert.equal(attributes["process.runtime.name"], "deno");
        assert.match(String(attributes["service.instance.id"]), /:app4$/);
        assert.equal(attributes["service.version"], project.version, "deno.json's version");
        // The instrumentation scope names the host, its version and the conventions it follows.
        const scopes = (body.resourceSpans ?? body.resourceLogs) as Array<
          Record<string, Array<{ scope: Record<string, string>; schemaUrl?: string }>>
        >;
        const [scoped] = scopes[0].scopeSpans ?? scopes[0].scopeLogs;
        assert.deepEqual(scoped.scope, { name: SCOPE.name, version: project.version });
        assert.equal(scoped.schemaUrl, `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`);
      }
      assert.equal(
        await metricValue(telemetry.metrics.registry, "target_info", {
          service_name: "app4",
          service_version: project.version,
          deployment_environment_name: "test",
          telemetry_sdk_language: "nodejs",
        }),
        1,
        "target_info carries the same resource",
      );
    } finally {
      await telemetry.shutdown();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "createServiceTelemetry: with OTEL_SDK_DISABLED nothing is exported, logs still written",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const receiver = await OtlpReceiver.start();
    const lines: string[] = [];
    const telemetry = createServiceTelemetry(
      "app2",
      loadConfig({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }),
      new ExportStatus(() => {}),
      (line) => lines.push(line),
    );
    try {
      telemetry.tracer.startActiveSpan("ignored", (span) => {
        assert.equal(span.isRecording(), false);
        telemetry.log.info("still logged");
        span.end();
      });
      await telemetry.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(receiver.requests.size, 0);
      assert.equal(lines.length, 1);
      assert.equal(JSON.parse(lines[0]).message, "still logged");
    } finally {
      await telemetry.shutdown();
      await receiver.stop();
    }
  },
});

Deno.test({
  name: "createServiceTelemetry: an unreachable endpoint is counted, reported once, never thrown",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const port = freePort();
    const reports: string[] = [];
    const telemetry = createServiceTelemetry(
      "executor",
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }),
      new ExportStatus((level, message, fields) =>
        reports.push(`${level} ${message} ${fields.signal}`)
      ),
      () => {},
    );
    try {
      telemetry.tracer.startSpan("tick-1").end();
      telemetry.tracer.startSpan("tick-2").end();
      telemetry.log.info("tick");
      await telemetry.flush(); // resolves: a failed export is not an exception
      const registry = telemetry.metrics.registry;
      const exporter = (signal: "span" | "log") => ({
        otel_component_type: `otlp_http_json_${signal}_exporter`,
        otel_component_name: `otlp_http_json_${signal}_exporter/0`,
        server_address: "127.0.0.1",
        server_port: String(port),
      });
      const failed = async (signal: "span" | "log") => {
        const [family] = (await registry.getMetricsAsJSON()).filter((f) =>
          f.name === `otel_sdk_exporter_${signal}_exported_total`
        );
        return family.values.filter((v) => v.labels.error_type !== undefined).map((v) =>
          ({ ...v.labels, value: v.value }) as Record<string, string | number>
        );
      };
      const [spanFailure] = await failed("span");
      assert.deepEqual({ ...spanFailure, error_type: "…" }, {
        ...exporter("span"),
        error_type: "…",
        value: 2,
      });
      assert.match(String(spanFailure.error_type), /^[\w.-]+$/, "a short error type");
      assert.equal((await failed("log"))[0].value, 1);
      assert.equal(
        await metricValue(registry, "otel_sdk_processor_span_processed_total", {
          otel_component_type: "batching_span_processor",
          otel_component_name: "batching_span_processor/0",
        }),
        2,
        "handed to the exporter: processed, whatever the export's outcome",
      );
      assert.deepEqual(reports.sort(), [
        "warn OTLP export failing; dropping and counting in otel_sdk_exporter_* logs",
        "warn OTLP export failing; dropping and counting in otel_sdk_exporter_* traces",
      ]);
    } finally {
      await telemetry.shutdown();
    }
  },
});

Deno.test({
  name: "createServiceTelemetry: a rejected export is counted, then recovery is reported",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let accept = false;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        await request.arrayBuffer();
        return accept ? Response.json({}) : Response.json({ error: "bad" }, { status: 400 });
      },
    );
    const reports: string[] = [];
    const telemetry = createServiceTelemetry(
      "app3",
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}` }),
      new ExportStatus((level, message, fields) =>
        reports.push(`${level} ${message} ${fields.signal}`)
      ),
      () => {},
    );
    try {
      telemetry.tracer.startSpan("first").end();
      await telemetry.flush();
      telemetry.tracer.startSpan("second").end();
      await telemetry.flush();
      const registry = telemetry.metrics.registry;
      const spans = (labels: Record<string, string>) =>
        metricValue(registry, "otel_sdk_exporter_span_exported_total", labels);
      assert.equal(await spans({ error_type: "400" }), 2, "the status the collector answered");
      assert.equal(reports.length, 1, JSON.stringify(reports));
      accept = true;
      telemetry.tracer.startSpan("third").end();
      await telemetry.flush();
      assert.deepEqual(reports, [
        "warn OTLP export failing; dropping and counting in otel_sdk_exporter_* traces",
        "info OTLP export recovered traces",
      ]);
      assert.equal(await spans({ error_type: "400" }), 2);
      const [family] = (await registry.getMetricsAsJSON()).filter((f) =>
        f.name === "otel_sdk_exporter_span_exported_total"
      );
      const ok = family.values.find((v) => v.labels.error_type === undefined);
      assert.equal(ok?.value, 1, "the exported span, without error_type");
    } finally {
      await telemetry.shutdown();
      await server.shutdown();
    }
  },
});
