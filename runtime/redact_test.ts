import assert from "node:assert/strict";
import { redactUrls } from "./redact.ts";

Deno.test("redactUrls: user-info and query values of every URL in the text", () => {
  assert.equal(
    redactUrls("https://user:s3cret@otlp.example:4318/v1/traces"),
    "https://***@otlp.example:4318/v1/traces",
  );
  assert.equal(
    redactUrls("postgres://app:pw@db/x?sslmode=require&password=pw"),
    "postgres://***@db/x?sslmode=***&password=***",
  );
  assert.equal(
    redactUrls('connect to "http://tok@127.0.0.1:1/v1/logs?key=abc" failed'),
    'connect to "http://***@127.0.0.1:1/v1/logs?key=***" failed',
  );
  // Nothing to hide: unchanged.
  for (
    const text of ["http://localhost:4318/v1/traces", "connect ECONNREFUSED 127.0.0.1:4318", "a@b"]
  ) {
    assert.equal(redactUrls(text), text);
  }
});
