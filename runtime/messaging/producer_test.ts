import assert from "node:assert/strict";
import { propagation, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { memoryTelemetry, metricValue } from "../_test_util.ts";
import type { Delivery } from "../function.ts";
import type { Bus, BusMessage } from "./bus.ts";
import { EmbeddedBus } from "./embedded.ts";
import { createProducer, messagingAttributes } from "./producer.ts";

/** A bus that records what it is given and answers with fixed deliveries or a failure. */
function recordingBus(failure?: Error) {
  const sent: Array<{ topic: string; message: BusMessage }> = [];
  const bus: Bus = {
    server: { address: "broker-1", port: 9092 },
    clientId: "otel-functions",
    send(topic, message): Promise<Delivery> {
      sent.push({ topic, message });
      return failure
        ? Promise.reject(failure)
        : Promise.resolve({ topic, partition: 2, offset: String(sent.length + 40) });
    },
    subscribe: () => Promise.reject(new Error("not used")),
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { bus, sent };
}

Deno.test("createProducer: a PRODUCER span 'send <topic>' whose context rides in the headers", async () => {
  const telemetry = memoryTelemetry("app1");
  const { bus, sent } = recordingBus();
  const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
  const delivery = await telemetry.tracer.startActiveSpan(
    "POST /Message/Post-Message",
    (span) =>
      producer.send("Purchase", {
        key: "8c1f",
        value: { id: "8c1f", content: "héllo" },
        headers: { "x-origin": "app1" },
      }).finally(() => span.end()),
  );
  assert.deepEqual(delivery, { topic: "Purchase", partition: 2, offset: "41" });

  const span = telemetry.span("send Purchase");
  const server = telemetry.span("POST /Message/Post-Message");
  assert.equal(span.kind, SpanKind.PRODUCER);
  assert.equal(span.parentSpanContext?.spanId, server.spanContext().spanId);
  const value = '{"id":"8c1f","content":"héllo"}';
  assert.deepEqual(span.attributes, {
    "messaging.system": "kafka",
    "messaging.destination.name": "Purchase",
    "messaging.client.id": "otel-functions",
    "server.address": "broker-1",
    "server.port": 9092,
    "messaging.operation.type": "send",
    "messaging.operation.name": "send",
    "messaging.kafka.message.key": "8c1f",
    "messaging.message.body.size": new TextEncoder().encode(value).length,
    "messaging.destination.partition.id": "2",
    "messaging.kafka.offset": 41,
  });

  assert.equal(sent.length, 1);
  const { message } = sent[0];
  assert.equal(message.key, "8c1f");
  assert.equal(message.value, value, "objects are sent as JSON");
  assert.equal(message.headers["x-origin"], "app1");
  const { traceId, spanId } = span.spanContext();
  assert.equal(message.headers.traceparent, `00-${traceId}-${spanId}-01`);
  const sentLabels = {
    messaging_system: "kafka",
    messaging_destination_name: "Purchase",
    messaging_operation_name: "send",
    messaging_destination_partition_id: "2",
    server_address: "broker-1",
    server_port: "9092",
  };
  const registry = telemetry.metrics.registry;
  assert.equal(await metricValue(registry, "messaging_client_sent_messages_total", sentLabels), 1);
  assert.equal(
    await metricValue(registry, "messaging_client_operation_duration_seconds_count", {
      ...sentLabels,
      messaging_operation_type: "send",
    }),
    1,
  );
  assert.equal(
    await metricValue(telemetry.metrics.registry, "dependency_up", { dependency: "kafka" }),
    1,
  );
});

Deno.test("createProducer: strings are sent as they are; baggage travels too", async () => {
  const telemetry = memoryTelemetry("app3");
  const { bus, sent } = recordingBus();
  const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
  const { context } = await import("@opentelemetry/api");
  const baggage = propagation.createBaggage({ tenant: { value: "acme" } });
  await context.with(
    propagation.setBaggage(context.active(), baggage),
    () => producer.send("Purchase2", { key: "k", value: "already a string" }),
  );
  assert.equal(sent[0].message.value, "already a string");
  assert.equal(sent[0].message.headers.baggage, "tenant=acme");
  assert.equal(telemetry.span("send Purchase2").parentSpanContext, undefined);
});

Deno.test("createProducer: a failed send is counted, marks the span and is rethrown", async () => {
  const telemetry = memoryTelemetry("app1");
  const failure = Object.assign(new Error("broker not available"), { code: "ECONNREFUSED" });
  const { bus } = recordingBus(failure);
  const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
  await assert.rejects(
    producer.send("Purchase", { key: "k", value: {} }),
    (error) => error === failure,
  );
  const span = telemetry.span("send Purchase");
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "ECONNREFUSED");
  const registry = telemetry.metrics.registry;
  const [family] = (await registry.getMetricsAsJSON()).filter((f) =>
    f.name === "messaging_client_sent_messages_total"
  );
  assert.deepEqual(family.values.map((v) => v.labels), [{
    messaging_system: "kafka",
    messaging_destination_name: "Purchase",
    server_address: "broker-1",
    server_port: 9092,
    messaging_operation_name: "send",
    error_type: "ECONNREFUSED",
  }], "attempted, failed, no partition");
  assert.equal(await metricValue(registry, "dependency_up", { dependency: "kafka" }), 0);
});

Deno.test("createProducer: over the embedded bus the message is stored with its traceparent", async () => {
  const dir = await Deno.makeTempDir();
  const bus = await EmbeddedBus.open(dir);
  try {
    const telemetry = memoryTelemetry("app1");
    const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
    const delivery = await producer.send("Purchase", { key: "id-1", value: { id: "id-1" } });
    const [stored] = bus.read("Purchase", delivery.partition, Number(delivery.offset));
    const span = telemetry.span("send Purchase");
    assert.equal(stored.value, '{"id":"id-1"}');
    assert.equal(stored.key, "id-1");
    assert.equal(stored.headers.traceparent?.split("-")[2], span.spanContext().spanId);
    assert.equal(span.attributes["server.address"], undefined, "in-process: no broker");
    assert.equal(span.attributes["server.port"], undefined);
  } finally {
    await bus.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("messagingAttributes: the attributes every Kafka span shares", () => {
  const { bus } = recordingBus();
  assert.deepEqual(messagingAttributes(bus, "Purchase2"), {
    "messaging.system": "kafka",
    "messaging.destination.name": "Purchase2",
    "messaging.client.id": "otel-functions",
    "server.address": "broker-1",
    "server.port": 9092,
  });
});

Deno.test("createProducer: a batched send says how many went together and when the batch left", async () => {
  const dir = await Deno.makeTempDir();
  const bus = await EmbeddedBus.open(dir, {
    batch: { lingerMs: 15, maxMessages: 100, maxBytes: 1 << 20 },
  });
  try {
    const telemetry = memoryTelemetry("app1");
    const producer = createProducer(bus, telemetry.tracer, telemetry.metrics);
    const deliveries = await Promise.all(
      ["a", "b", "c"].map((key) => producer.send("Purchase", { key, value: { id: key } })),
    );
    for (const delivery of deliveries) {
      assert.deepEqual(Object.keys(delivery).sort(), ["offset", "partition", "topic"]);
    }
    const spans = telemetry.spans().filter((span) => span.name === "send Purchase");
    assert.equal(spans.length, 3);
    for (const span of spans) {
      assert.equal(span.attributes["messaging.batch.message_count"], undefined, "one message");
      const [event] = span.events;
      assert.equal(event.name, "batch sent");
      assert.equal(event.attributes?.["messaging.batch.message_count"], 3);
      const toMs = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;
      const lingered = toMs(event.time) - toMs(span.startTime);
      assert.ok(lingered >= 10 && lingered < 500, `the send lingered ${lingered} ms`);
      assert.ok(toMs(span.endTime) >= toMs(event.time));
    }
    const registry = telemetry.metrics.registry;
    assert.equal(
      await metricValue(registry, "messaging_kafka_producer_batch_message_count_sum", {
        messaging_destination_name: "Purchase",
      }),
      9,
    );
    const lingerSum = await metricValue(
      registry,
      "messaging_kafka_producer_linger_duration_seconds_sum",
      { messaging_destination_name: "Purchase" },
    );
    assert.ok(lingerSum !== undefined && lingerSum >= 0.03, `linger sum ${lingerSum}`);
  } finally {
    await bus.close();
    await Deno.remove(dir, { recursive: true });
  }
});
