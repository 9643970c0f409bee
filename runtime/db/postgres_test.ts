import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { memoryTelemetry, metricValue } from "../_test_util.ts";
import { freePort } from "../../testing/port.ts";
import { missingPostgres, postgresUrl, testWhen } from "../_test_needs.ts";
import { DependencyMisconfiguredError, DependencyUnavailableError } from "../errors.ts";
import { classifyPostgresError, connectPostgres, DatabaseError } from "./postgres.ts";

const noPostgres = missingPostgres();

Deno.test("classifyPostgresError: SQL errors keep only their SQLSTATE", () => {
  for (const code of ["23505", "42P01", "22P02", "40001", "57014", "XX000"]) {
    const classified = classifyPostgresError(
      Object.assign(new Error(`duplicate key value (id)=(secret)`), { code }),
    );
    assert.ok(classified instanceof DatabaseError, code);
    assert.equal(classified.code, code);
    assert.equal(classified.name, "DatabaseError");
    assert.equal(classified.message, `postgres error ${code}`);
  }
});

Deno.test("classifyPostgresError: connection failures, timeouts and a server going away are outages", () => {
  const cases: unknown[] = [
    Object.assign(new Error("connection failure"), { code: "08006" }),
    Object.assign(new Error("cannot connect now"), { code: "08001" }),
    Object.assign(new Error("terminating connection due to administrator command"), {
      code: "57P01",
    }),
    Object.assign(new Error("crash shutdown"), { code: "57P02" }),
    Object.assign(new Error("the database system is starting up"), { code: "57P03" }),
    Object.assign(new Error("too many connections"), { code: "53300" }),
    Object.assign(new Error("out of memory"), { code: "53400" }),
    Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
    Object.assign(new Error("getaddrinfo ENOTFOUND db"), { code: "ENOTFOUND" }),
    Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" }),
    Object.assign(new Error("write CONNECT_TIMEOUT"), { code: "CONNECT_TIMEOUT" }),
    new Deno.errors.ConnectionRefused("refused"),
    new DOMException("timed out", "TimeoutError"),
  ];
  for (const error of cases) {
    const classified = classifyPostgresError(error);
    assert.ok(classified instanceof DependencyUnavailableError, String(error));
    assert.ok(!(classified instanceof DependencyMisconfiguredError), String(error));
    assert.equal(classified.dependency, "postgres");
    assert.equal(classified.cause, error);
  }
});

Deno.test("classifyPostgresError: refused credentials or database are a configuration error", () => {
  for (const code of ["28P01", "28000", "3D000", "SASL_SIGNATURE_MISMATCH"]) {
    const error = Object.assign(new Error(`password authentication failed for "app"`), { code });
    const classified = classifyPostgresError(error);
    assert.ok(classified instanceof DependencyMisconfiguredError, code);
    assert.equal(classified.reason, code);
    assert.equal(classified.dependency, "postgres");
    assert.ok(!classified.message.includes("app"));
  }
});

Deno.test("classifyPostgresError: errors without a SQLSTATE are failures, not outages", () => {
  // A bug in the caller must be retried and dead-lettered, never hold a partition forever.
  const cases: Array<[unknown, string]> = [
    [
      Object.assign(new Error("UNDEFINED_VALUE: Undefined values are not allowed"), {
        code: "UNDEFINED_VALUE",
      }),
      "UNDEFINED_VALUE",
    ],
    [
      Object.assign(new Error("MAX_PARAMETERS_EXCEEDED: too many"), {
        code: "MAX_PARAMETERS_EXCEEDED",
      }),
      "MAX_PARAMETERS_EXCEEDED",
    ],
    [new TypeError("Cannot read properties of undefined (reading 'secret')"), "TypeError"],
    [new Error("no code at all"), "Error"],
    ["a string", "string"],
    [null, "object"],
    [undefined, "undefined"],
  ];
  for (const [error, code] of cases) {
    const classified = classifyPostgresError(error);
    assert.ok(classified instanceof DatabaseError, String(error));
    assert.ok(!(classified instanceof DependencyUnavailableError));
    assert.equal(classified.code, code);
    assert.ok(!classified.message.includes("secret"));
  }
});

/**
 * A server that answers every connection's startup with an ErrorResponse carrying `sqlstate`,
 * as PostgreSQL does for a wrong password.
 */
function refusingServer(sqlstate: string): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const encoder = new TextEncoder();
  const fields = encoder.encode(
    `SFATAL\0VFATAL\0C${sqlstate}\0Mpassword authentication failed for user "app"\0\0`,
  );
  const reply = new Uint8Array(5 + fields.length);
  reply[0] = "E".charCodeAt(0);
  new DataView(reply.buffer).setInt32(1, 4 + fields.length);
  reply.set(fields, 5);
  (async () => {
    for await (const connection of listener) {
      (async () => {
        try {
          await connection.read(new Uint8Array(1024)); // the startup message
          await connection.write(reply);
        } catch {
          // the client went away
        } finally {
          connection.close();
        }
      })();
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `postgres://app:wrong-password@127.0.0.1:${port}/postgres`,
    close: () => listener.close(),
  };
}

Deno.test({
  name:
    "connectPostgres: a refused password (28P01) is DependencyMisconfiguredError, dependency_up 0",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = refusingServer("28P01");
    const telemetry = memoryTelemetry("app3");
    const db = connectPostgres(server.url, {
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
    });
    try {
      for (const call of [() => db.ping(), () => db.query("select 1")]) {
        await assert.rejects(call(), (error) => {
          assert.ok(error instanceof DependencyMisconfiguredError, String(error));
          assert.equal(error.reason, "28P01");
          assert.ok(!error.message.includes("wrong-password"));
          return true;
        });
      }
      assert.equal(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "postgres" }),
        0,
      );
    } finally {
      await db.close();
      server.close();
    }
  },
});

Deno.test({
  name: "connectPostgres: an unreachable server is DependencyUnavailableError, dependency_up 0",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const telemetry = memoryTelemetry("app3");
    const db = connectPostgres(`postgres://postgres@127.0.0.1:${freePort()}/postgres`, {
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
    });
    try {
      await assert.rejects(db.ping(), DependencyUnavailableError);
      await assert.rejects(db.query("select 1"), DependencyUnavailableError);
      const span = telemetry.span("SELECT");
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes["error.type"], "DependencyUnavailableError");
      assert.equal(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "postgres" }),
        0,
      );
      assert.equal(
        await metricValue(
          telemetry.metrics.registry,
          "db_client_operation_duration_seconds_count",
          {
            db_system_name: "postgresql",
            db_operation_name: "SELECT",
            error_type: "DependencyUnavailableError",
          },
        ),
        1,
      );
    } finally {
      await db.close();
    }
  },
});

testWhen(noPostgres, {
  name: "connectPostgres: queries are CLIENT spans with parameterised text",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const telemetry = memoryTelemetry("app3");
    const db = connectPostgres(postgresUrl()!, {
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
      max: 2,
    });
    const server = new URL(postgresUrl()!.replace(/^postgres(ql)?:/, "http:"));
    const table = `unit_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await db.ping();
      await db.query(`create table ${table} (id uuid primary key, content text not null)`);
      const id = crypto.randomUUID();
      const rows = await db.query<{ id: string; content: string }>(
        `insert into ${table} (id, content) values ($1, $2) returning id, content`,
        [id, "secret value"],
      );
      assert.deepEqual([...rows], [{ id, content: "secret value" }]);
      const selected = await db.query(`select content from ${table} where id = $1`, [id]);
      assert.deepEqual([...selected], [{ content: "secret value" }]);

      const insert = telemetry.span(`INSERT ${table}`);
      assert.equal(insert.kind, SpanKind.CLIENT);
      assert.deepEqual(insert.attributes, {
        "db.system.name": "postgresql",
        "db.namespace": decodeURIComponent(server.pathname.slice(1)) || "postgres",
        "server.address": server.hostname || "localhost",
        "server.port": Number(server.port) || 5432,
        "service.peer.name": "postgresql",
        "peer.service": "postgresql",
        "db.operation.name": "INSERT",
        "db.collection.name": table,
        "db.query.summary": `INSERT ${table}`,
        "db.query.text": `insert into ${table} (id, content) values ($1, $2) returning id, content`,
        "db.response.returned_rows": 1,
      });
      assert.ok(!JSON.stringify(insert.attributes).includes("secret value"));
      assert.equal(telemetry.span(`SELECT ${table}`).attributes["db.response.returned_rows"], 1);
      assert.equal(
        await metricValue(
          telemetry.metrics.registry,
          "db_client_operation_duration_seconds_count",
          {
            db_system_name: "postgresql",
            db_operation_name: "INSERT",
            db_collection_name: table,
            db_namespace: decodeURIComponent(server.pathname.slice(1)) || "postgres",
            db_query_summary: `INSERT ${table}`,
            server_address: server.hostname || "localhost",
            server_port: String(Number(server.port) || 5432),
          },
        ),
        1,
      );
      assert.equal(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "postgres" }),
        1,
      );

      // A constraint violation is a DatabaseError with the SQLSTATE only, on the span too.
      await assert.rejects(
        db.query(`insert into ${table} (id, content) values ($1, $2)`, [id, "other secret"]),
        (error) => error instanceof DatabaseError && error.code === "23505",
      );
      const failed = telemetry.spans().filter((span) => span.name === `INSERT ${table}`)[1];
      assert.equal(failed.status.code, SpanStatusCode.ERROR);
      assert.equal(failed.attributes["db.response.status_code"], "23505");
      assert.equal(failed.attributes["error.type"], "23505");
      assert.ok(!JSON.stringify(failed.events).includes("secret"));
      assert.equal(failed.status.message, "postgres error 23505");
      assert.equal(
        await metricValue(
          telemetry.metrics.registry,
          "db_client_operation_duration_seconds_count",
          { db_operation_name: "INSERT", error_type: "23505", db_response_status_code: "23505" },
        ),
        1,
      );
    } finally {
      await db.query(`drop table if exists ${table}`).catch(() => {});
      await db.close();
    }
  },
});

testWhen(noPostgres, {
  name: "connectPostgres: prepare runs once before the first query, retried after a failure",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const telemetry = memoryTelemetry("app3");
    let calls = 0;
    const db = connectPostgres(postgresUrl()!, {
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
      prepare: async (client) => {
        calls++;
        if (calls === 1) throw Object.assign(new Error("deadlock"), { code: "40P01" });
        await client.sql`select 1`;
      },
    });
    try {
      await assert.rejects(
        db.query("select 1"),
        (error) => error instanceof DatabaseError && error.code === "40P01",
      );
      assert.equal(calls, 1);
      await Promise.all([db.query("select 1"), db.query("select 2"), db.prepare()]);
      assert.equal(calls, 2, "concurrent first queries share one prepare");
      await db.query("select 3");
      assert.equal(calls, 2);
    } finally {
      await db.close();
    }
  },
});

testWhen(noPostgres, {
  name:
    "connectPostgres: postgres.js's own error from a bad call is a DatabaseError, not an outage",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const telemetry = memoryTelemetry("app3");
    const db = connectPostgres(postgresUrl()!, {
      tracer: telemetry.tracer,
      metrics: telemetry.metrics,
    });
    try {
      await db.ping();
      await assert.rejects(
        db.query("select $1::text as value", [undefined as unknown as string]),
        (error) => error instanceof DatabaseError && error.code === "UNDEFINED_VALUE",
      );
      assert.notEqual(
        await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "postgres" }),
        0,
        "a bad call says nothing about the server",
      );
    } finally {
      await db.close();
    }
  },
});
