import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { memoryTelemetry, metricValue } from "../_test_util.ts";
import { DependencyMisconfiguredError, DependencyUnavailableError } from "../errors.ts";
import { type DbCallAttributes, dbCalls } from "./db_call.ts";

class RefusedError extends Error {
  constructor(readonly code: string) {
    super(`refused ${code}`);
    this.name = "RefusedError";
  }
}

const SERVER = { address: "db.internal", port: 5432 };

/** A client whose failures are outages when their message says so, else refusals by code. */
function fixture(server: { address: string; port?: number } | null = SERVER) {
  const telemetry = memoryTelemetry("app3");
  const call = dbCalls({
    tracer: telemetry.tracer,
    metrics: telemetry.metrics,
    system: "postgresql",
    dependency: "postgres",
    namespace: "orders",
    server: server ?? undefined,
    classify: (error) => {
      const message = error instanceof Error ? error.message : String(error);
      if (message === "down") return new DependencyUnavailableError("postgres", error);
      if (message === "password") return new DependencyMisconfiguredError("postgres", "28P01");
      return new RefusedError(message);
    },
    statusCode: (failure) => failure instanceof RefusedError ? failure.code : undefined,
  });
  const registry = telemetry.metrics.registry;
  const up = () => metricValue(registry, "dependency_up", { dependency: "postgres" });
  const count = (labels: Record<string, string>) =>
    metricValue(registry, "db_client_operation_duration_seconds_count", labels);
  return { telemetry, call, up, count };
}

const INSERT: DbCallAttributes = {
  "db.operation.name": "INSERT",
  "db.collection.name": "messages",
  "db.query.summary": "INSERT messages",
  "db.query.text": "insert into messages values ($1)",
};

Deno.test("dbCalls: a CLIENT span named by the summary, with the common attributes", async () => {
  const { telemetry, call, up, count } = fixture();
  const rows = await call(INSERT, (span) => {
    span.setAttribute("db.response.returned_rows", 1);
    return Promise.resolve([{ id: 1 }]);
  });
  assert.deepEqual(rows, [{ id: 1 }]);
  const span = telemetry.span("INSERT messages");
  assert.equal(span.kind, SpanKind.CLIENT);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(span.attributes, {
    "db.system.name": "postgresql",
    "db.namespace": "orders",
    "server.address": "db.internal",
    "server.port": 5432,
    "service.peer.name": "postgresql",
    "peer.service": "postgresql",
    ...INSERT,
    "db.response.returned_rows": 1,
  });
  assert.equal(await up(), 1);
  const labels = {
    db_system_name: "postgresql",
    db_operation_name: "INSERT",
    db_collection_name: "messages",
    db_namespace: "orders",
    db_query_summary: "INSERT messages",
    server_address: "db.internal",
    server_port: "5432",
  };
  assert.equal(await count(labels), 1);
  const family = (await telemetry.metrics.registry.getMetricsAsJSON())
    .find((f) => f.name === "db_client_operation_duration_seconds")!;
  assert.ok(family.values.every((v) => v.labels.error_type === undefined), "no error_type");
  const exemplars = family.values.flatMap((v) => {
    const exemplar = (v as { exemplar?: { labelSet: Record<string, string> } | null }).exemplar;
    return exemplar ? [exemplar.labelSet] : [];
  });
  const { traceId, spanId } = span.spanContext();
  assert.deepEqual(exemplars, [{ trace_id: traceId, span_id: spanId }]);
});

Deno.test("dbCalls: without a summary the span is named by the operation; no server, no server.*", async () => {
  const { telemetry, call, count } = fixture(null);
  await call({ "db.operation.name": "GET", "db.query.text": "GET ?" }, () => Promise.resolve(1));
  const span = telemetry.span("GET");
  assert.equal(span.attributes["server.address"], undefined);
  assert.equal(span.attributes["server.port"], undefined);
  assert.equal(await count({ db_operation_name: "GET" }), 1);
  const family = (await telemetry.metrics.registry.getMetricsAsJSON())
    .find((f) => f.name === "db_client_operation_duration_seconds")!;
  for (const value of family.values) {
    assert.equal(value.labels.server_address, undefined);
    assert.equal(value.labels.db_collection_name, undefined);
  }
});

Deno.test("dbCalls: a refused call carries the server's status code; the dependency stays up", async () => {
  const { telemetry, call, up, count } = fixture();
  await call(INSERT, () => Promise.resolve([]));
  await assert.rejects(
    call(INSERT, () => Promise.reject(new Error("23505"))),
    (error) => error instanceof RefusedError && error.code === "23505",
  );
  const failed = telemetry.spans().at(-1)!;
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  assert.equal(failed.attributes["db.response.status_code"], "23505");
  assert.equal(failed.attributes["error.type"], "23505");
  assert.equal(await up(), 1);
  assert.equal(await count({ error_type: "23505", db_response_status_code: "23505" }), 1);
});

Deno.test("dbCalls: an outage or refused credentials mark the dependency down, with no status code", async () => {
  for (
    const [cause, type] of [["down", "DependencyUnavailableError"], [
      "password",
      "DependencyMisconfiguredError",
    ]]
  ) {
    const { telemetry, call, up, count } = fixture();
    await call(INSERT, () => Promise.resolve([]));
    await assert.rejects(
      call(INSERT, () => Promise.reject(new Error(cause))),
      DependencyUnavailableError,
    );
    const failed = telemetry.spans().at(-1)!;
    assert.equal(failed.attributes["error.type"], type);
    assert.equal(failed.attributes["db.response.status_code"], undefined);
    assert.equal(await up(), 0);
    assert.equal(await count({ error_type: type }), 1);
    const family = (await telemetry.metrics.registry.getMetricsAsJSON())
      .find((f) => f.name === "db_client_operation_duration_seconds")!;
    assert.ok(family.values.every((v) => v.labels.db_response_status_code === undefined));
  }
});
