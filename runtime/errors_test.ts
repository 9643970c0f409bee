import assert from "node:assert/strict";
import {
  DependencyMisconfiguredError,
  DependencyUnavailableError,
  errorType,
  isConnectionFailure,
  PermanentError,
} from "./errors.ts";

Deno.test("PermanentError: a named Error keeping its cause", () => {
  const cause = new SyntaxError("Unexpected token");
  const error = new PermanentError("value is not JSON", { cause });
  assert.ok(error instanceof Error);
  assert.equal(error.name, "PermanentError");
  assert.equal(error.message, "value is not JSON");
  assert.equal(error.cause, cause);
});

Deno.test("DependencyUnavailableError: names the dependency, keeps the cause", () => {
  const cause = new Error("ECONNREFUSED 127.0.0.1:5432");
  const error = new DependencyUnavailableError("postgres", cause);
  assert.equal(error.name, "DependencyUnavailableError");
  assert.equal(error.message, "postgres is unavailable");
  assert.equal(error.dependency, "postgres");
  assert.equal(error.cause, cause);
  assert.equal(new DependencyUnavailableError("redis").cause, undefined);
});

Deno.test("errorType: a short code when the error has one, else the error's name", () => {
  const withCode = (code: unknown, name = "Error") =>
    Object.assign(Object.assign(new Error("m"), { name }), { code });
  assert.equal(errorType(withCode("ECONNREFUSED")), "ECONNREFUSED");
  assert.equal(errorType(withCode("57P01")), "57P01");
  assert.equal(errorType(withCode("ERR_HTTP.bad-thing")), "ERR_HTTP.bad-thing");
  assert.equal(errorType(withCode("x".repeat(40))), "x".repeat(40));
  // Codes that are not short identifiers could carry values: fall back to the name.
  assert.equal(errorType(withCode("x".repeat(41), "LongCode")), "LongCode");
  assert.equal(errorType(withCode("duplicate key (id)=(42)", "DbError")), "DbError");
  assert.equal(errorType(withCode("", "Empty")), "Empty");
  assert.equal(errorType(withCode(42, "Numeric")), "Numeric");
  assert.equal(errorType(new TypeError("x")), "TypeError");
  assert.equal(errorType(new PermanentError("x")), "PermanentError");
  assert.equal(errorType(new DependencyUnavailableError("kafka")), "DependencyUnavailableError");
});

Deno.test("errorType: Deno's own errors report their errno code", async () => {
  const error = await Deno.connect({ hostname: "127.0.0.1", port: 1 }).then(
    (connection) => {
      connection.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  assert.ok(error instanceof Deno.errors.ConnectionRefused);
  assert.equal(errorType(error), "ECONNREFUSED");
});

Deno.test("errorType: non-errors are described by their typeof", () => {
  assert.equal(errorType("boom"), "string");
  assert.equal(errorType(42), "number");
  assert.equal(errorType(undefined), "undefined");
  assert.equal(errorType(null), "object");
  assert.equal(errorType({ code: "ECONNREFUSED" }), "object");
});

Deno.test("DependencyMisconfiguredError: an outage kind (waited out, 503) that names its reason", () => {
  const cause = new Error('password authentication failed for user "app"');
  const error = new DependencyMisconfiguredError("postgres", "28P01", cause);
  assert.ok(error instanceof DependencyUnavailableError);
  assert.equal(error.name, "DependencyMisconfiguredError");
  assert.equal(error.reason, "28P01");
  assert.equal(error.cause, cause);
  assert.match(
    error.message,
    /^postgres refuses the configured credentials or database \(28P01\)$/,
  );
});

Deno.test("isConnectionFailure: refused, reset and timed-out connections, not bugs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  const refused = await fetch(url).then(() => undefined, (error) => error);
  const failures = [
    Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    Object.assign(new Error("write CONNECT_TIMEOUT"), { code: "CONNECT_TIMEOUT" }),
    new Deno.errors.ConnectionReset("reset"),
    new DOMException("timed out", "TimeoutError"),
    Object.assign(new TypeError("fetch failed"), { cause: new Error("Connection refused") }),
  ];
  for (const error of [...failures, refused]) assert.ok(isConnectionFailure(error), String(error));
  for (
    const error of [
      new TypeError("Cannot read properties of undefined"),
      new TypeError("Invalid URL: 'app3'"),
      Object.assign(new Error("duplicate key"), { code: "23505" }),
      Object.assign(new Error("x"), { code: "UNDEFINED_VALUE" }),
      "ECONNREFUSED",
      undefined,
    ]
  ) {
    assert.ok(!isConnectionFailure(error), String(error));
  }
});
