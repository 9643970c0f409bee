import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { memoryTelemetry, metricValue } from "../_test_util.ts";
import { freePort } from "../../testing/port.ts";
import { createTracedFetch } from "./fetch.ts";

interface Seen {
  method: string;
  path: string;
  traceparent: string | null;
  custom: string | null;
  body: string;
}

/** A local server recording what it received; `/status/N` answers N. */
async function withServer(fn: (base: string, seen: Seen[]) => Promise<void>): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      path: url.pathname + url.search,
      traceparent: req.headers.get("traceparent"),
      custom: req.headers.get("x-custom"),
      body: await req.text(),
    });
    const status = url.pathname.startsWith("/status/") ? Number(url.pathname.slice(8)) : 201;
    return Response.json({ ok: status < 400 }, { status });
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("createTracedFetch: injects traceparent of a CLIENT span child of the active span", async () => {
  await withServer(async (base, seen) => {
    const telemetry = memoryTelemetry("app1");
    const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
    await telemetry.tracer.startActiveSpan("POST /Message", async (server) => {
      const response = await tracedFetch(`${base}/PostMessage?debug=1`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-custom": "kept" },
        body: JSON.stringify({ content: "hello" }),
      });
      assert.equal(response.status, 201);
      assert.deepEqual(await response.json(), { ok: true });
      server.end();
    });
    const client = telemetry.span("POST");
    const parent = telemetry.span("POST /Message");
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(client.parentSpanContext?.spanId, parent.spanContext().spanId);
    const { traceId, spanId } = client.spanContext();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(seen[0].custom, "kept");
    assert.equal(seen[0].method, "POST");
    assert.equal(seen[0].path, "/PostMessage?debug=1");
    assert.equal(seen[0].body, '{"content":"hello"}');
    const port = Number(new URL(base).port);
    assert.deepEqual(client.attributes, {
      "http.request.method": "POST",
      "url.full": `${base}/PostMessage?debug=1`,
      "server.address": "127.0.0.1",
      "server.port": port,
      "network.protocol.version": "1.1",
      "http.response.status_code": 201,
    });
    assert.equal(client.status.code, SpanStatusCode.UNSET);
    assert.equal(
      await metricValue(telemetry.metrics.registry, "http_client_request_duration_seconds_count", {
        http_request_method: "POST",
        server_address: "127.0.0.1",
        server_port: String(port),
        http_response_status_code: "201",
        network_protocol_version: "1.1",
      }),
      1,
    );
  });
});

Deno.test("createTracedFetch: a Request object works and without a parent the span is a root", async () => {
  await withServer(async (base, seen) => {
    const telemetry = memoryTelemetry("executor");
    const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
    const response = await tracedFetch(
      new Request(`${base}/Message`, { method: "PUT", body: "x" }),
    );
    await response.body?.cancel();
    const client = telemetry.span("PUT");
    assert.equal(client.parentSpanContext, undefined);
    assert.equal(seen[0].traceparent?.split("-")[2], client.spanContext().spanId);
    assert.equal(seen[0].body, "x");
  });
});

Deno.test("createTracedFetch: 4xx and 5xx answers mark the span ERROR with the status as error.type", async () => {
  await withServer(async (base) => {
    const telemetry = memoryTelemetry("app2");
    const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
    for (const status of [404, 503]) {
      const response = await tracedFetch(`${base}/status/${status}`);
      assert.equal(response.status, status, "the response is returned, not thrown");
      await response.body?.cancel();
    }
    const spans = telemetry.spans();
    assert.deepEqual(
      spans.map((span) => [
        span.attributes["http.response.status_code"],
        span.attributes["error.type"],
        span.status.code,
      ]),
      [[404, "404", SpanStatusCode.ERROR], [503, "503", SpanStatusCode.ERROR]],
    );
  });
});

Deno.test("createTracedFetch: a connection failure rejects, records the error and a sample", async () => {
  const telemetry = memoryTelemetry("app1");
  const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
  const port = freePort();
  await assert.rejects(tracedFetch(`http://127.0.0.1:${port}/PostMessage`, { method: "POST" }));
  const client = telemetry.span("POST");
  assert.equal(client.status.code, SpanStatusCode.ERROR);
  assert.equal(typeof client.attributes["error.type"], "string");
  assert.equal(client.attributes["http.response.status_code"], undefined);
  assert.equal(client.events[0]?.name, "exception");
  assert.equal(
    await metricValue(telemetry.metrics.registry, "http_client_request_duration_seconds_count", {
      error_type: String(client.attributes["error.type"]),
      server_address: "127.0.0.1",
      server_port: String(port),
    }),
    1,
  );
});

Deno.test("createTracedFetch: network.protocol.version is what Deno's fetch really sends", async () => {
  // A raw TCP peer reads the request line, so the version is not taken on trust.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const requestLine = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    const read = await conn.read(buffer);
    const line = new TextDecoder().decode(buffer.subarray(0, read ?? 0)).split("\r\n")[0];
    await conn.write(
      new TextEncoder().encode("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"),
    );
    conn.close();
    return line;
  })();
  const telemetry = memoryTelemetry("app1");
  const response = await createTracedFetch(telemetry.tracer, telemetry.metrics)(
    `http://127.0.0.1:${port}/x`,
  );
  await response.body?.cancel();
  listener.close();
  const version = (await requestLine).split(" ").at(-1);
  assert.equal(version, "HTTP/1.1");
  assert.equal(telemetry.span("GET").attributes["network.protocol.version"], "1.1");
});

Deno.test("createTracedFetch: default ports follow the scheme", async () => {
  const telemetry = memoryTelemetry("app1");
  const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
  // Nothing is contacted: an aborted signal fails the request before it leaves.
  const signal = AbortSignal.abort();
  await assert.rejects(tracedFetch("https://app3.invalid/x", { signal }));
  await assert.rejects(tracedFetch("http://app3.invalid/x", { signal }));
  const [https, http] = telemetry.spans();
  assert.equal(https.attributes["server.port"], 443);
  assert.equal(http.attributes["server.port"], 80);
  assert.equal(https.attributes["server.address"], "app3.invalid");
  assert.equal(https.attributes["network.protocol.version"], undefined, "TLS may negotiate h2");
});

Deno.test("createTracedFetch: never follows a redirect (the callee cannot steer the call elsewhere)", async () => {
  const elsewhere: string[] = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    elsewhere.push(`${req.method} ${req.headers.get("baggage")}`);
    return new Response("taken");
  });
  const redirecting = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.redirect(`http://127.0.0.1:${other.addr.port}/steal`, 307),
  );
  try {
    const telemetry = memoryTelemetry("app1");
    const tracedFetch = createTracedFetch(telemetry.tracer, telemetry.metrics);
    const url = `http://127.0.0.1:${redirecting.addr.port}/PostMessage`;
    const init = { method: "POST", headers: { baggage: "user=secret" }, body: "{}" };
    const response = await tracedFetch(url, init);
    await response.body?.cancel();
    assert.equal(response.status, 307, "the caller gets the redirect itself");
    // Even a caller asking to follow does not.
    const asked = await tracedFetch(url, { ...init, redirect: "follow" });
    await asked.body?.cancel();
    assert.equal(asked.status, 307);
    await assert.rejects(tracedFetch(url, { ...init, redirect: "error" }), TypeError);
    assert.deepEqual(elsewhere, []);
    assert.equal(telemetry.spans()[0].attributes["http.response.status_code"], 307);
  } finally {
    await redirecting.shutdown();
    await other.shutdown();
  }
});
