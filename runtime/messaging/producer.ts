/**
 * The producer functions use: each send is a PRODUCER span `send <topic>` whose context travels
 * in the message headers (`traceparent`, `tracestate`, `baggage`), so the consumer's span joins
 * the same trace. When the bus batches, the span says how many messages went out in the same
 * request (`messaging.batch.message_count`) and marks the moment the request left with a
 * `batch sent` event, so the time spent lingering shows in the trace.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createMetrics } from "../telemetry/metrics.ts";
 * import { EmbeddedBus } from "./embedded.ts";
 * import { createProducer } from "./producer.ts";
 * const bus = await EmbeddedBus.open(await Deno.makeTempDir());
 * const producer = createProducer(bus, trace.getTracer("app1"), createMetrics());
 * const delivery = await producer.send("Purchase", { key: "id-1", value: { id: "id-1" } });
 * console.log(delivery.topic); // "Purchase"
 * await bus.close();
 * ```
 * @module
 */
import { context, SpanKind, type Tracer } from "@opentelemetry/api";
import type { Producer } from "../function.ts";
import { reportDependency } from "../health.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { injectContext } from "../telemetry/propagation.ts";
import { withSpan } from "../telemetry/span.ts";
import type { Bus } from "./bus.ts";
import { utf8Length } from "./linger.ts";

/** Attributes every Kafka span of this host carries. */
export function messagingAttributes(bus: Bus, topic: string) {
  return {
    "messaging.system": "kafka",
    "messaging.destination.name": topic,
    "server.address": bus.server.address,
    "server.port": bus.server.port,
  };
}

/** Creates a traced producer over `bus`. */
export function createProducer(bus: Bus, tracer: Tracer, metrics: Metrics): Producer {
  return {
    send(topic, message) {
      const value = typeof message.value === "string"
        ? message.value
        : JSON.stringify(message.value);
      return withSpan(tracer, `send ${topic}`, SpanKind.PRODUCER, {
        ...messagingAttributes(bus, topic),
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.kafka.message.key": message.key,
        "messaging.message.body.size": utf8Length(value),
      }, async (span) => {
        const headers: Record<string, string> = { ...message.headers };
        injectContext(context.active(), headers);
        try {
          const { batch, ...delivery } = await bus.send(topic, {
            key: message.key,
            value,
            headers,
          });
          span.setAttribute("messaging.destination.partition.id", String(delivery.partition));
          span.setAttribute("messaging.kafka.offset", Number(delivery.offset));
          if (batch) {
            span.setAttribute("messaging.batch.message_count", batch.messages);
            span.addEvent("batch sent", {
              "messaging.batch.message_count": batch.messages,
            }, batch.sentAt);
            metrics.kafkaProducerBatchMessages.observe({ topic }, batch.messages);
            metrics.kafkaProducerLinger.observe({ topic }, (batch.sentAt - batch.queuedAt) / 1000);
          }
          metrics.kafkaProduced.inc({ topic });
          reportDependency(metrics, "kafka", true);
          return delivery;
        } catch (error) {
          metrics.kafkaProduceFailures.inc({ topic });
          reportDependency(metrics, "kafka", false);
          throw error;
        }
      });
    },
  };
}
