/**
 * No message contents or credentials in logs or span attributes by default: the flow runs with
 * a distinctive content and secrets in its settings, and neither appears on stdout, in OTLP log
 * records, or in any span's attributes and events.
 */
import assert from "node:assert/strict";
import { postJson, startTestHost, testEachBackend } from "./_harness.ts";
import { waitFor } from "../testing/wait.ts";

testEachBackend("message contents and credentials stay out of logs and spans", async (suite) => {
  const content = `top-secret-content-${crypto.randomUUID()}`;
  const otlpToken = `otlp-token-${crypto.randomUUID()}`;
  const databasePassword = `pg-password-${crypto.randomUUID()}`;
  const env: Record<string, string> = {
    ...suite.env,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${otlpToken}`,
    LOG_LEVEL: "debug",
  };
  if (suite.real.postgres) {
    // The test server trusts local connections, so a password in the URL is accepted unused.
    const url = new URL(suite.env.DATABASE_URL);
    url.password = databasePassword;
    env.DATABASE_URL = url.href;
  }
  const test = await startTestHost({ env, services: ["app1", "app2", "app3", "app4"] });
  try {
    const stored = await postJson(`${test.url("app1")}/Message`, { content });
    assert.equal(stored.status, 201);
    const published = await postJson(`${test.url("app1")}/Message/Post-Message`, { content });
    assert.equal(published.status, 202);
    await waitFor("the message in app4's cache", async () => {
      const response = await fetch(`${test.url("app4")}/Message/${published.body.id}`);
      await response.body?.cancel();
      return response.status === 200 || undefined;
    });
    // Wait for the spans of the whole path, including app4's SET.
    await waitFor(
      "app4's SET span",
      () =>
        test.receiver.spans.some((span) => span.service === "app4" && span.name === "SET") ||
        undefined,
    );
    await waitFor(
      "app4's OTLP log record",
      () =>
        test.receiver.logs.some((log) => log.service === "app4" && log.body === "message cached") ||
        undefined,
    );
    const secrets = [content, otlpToken, databasePassword];
    const places = [
      ["stdout", test.logs.join("\n")],
      ["OTLP logs", JSON.stringify(test.receiver.logs)],
      ["spans", JSON.stringify(test.receiver.spans)],
    ] as const;
    for (const [place, text] of places) {
      assert.ok(text.length > 1000, `${place} recorded the flow`);
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `${place} contains ${secret.split("-")[0]}…`);
      }
    }
    // The message ids are there, as they should be, so the check is looking at the right data.
    assert.ok(test.logs.join("\n").includes(String(stored.body.id)));
  } finally {
    await test.stop();
  }
});
