/**
 * The producer functions use: each send is a PRODUCER span `send <topic>` whose context travels
 * in the message headers (`traceparent`, `tracestate`, `baggage`), so the consumer's span joins
 * the same trace. When the bus batches, a `batch sent` event marks the moment the request left,
 * with how many messages went in it (`messaging.batch.message_count`), so the time spent
 * lingering shows in the trace; the span itself describes one message, so the conventions keep
 * the batch count off it.
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
import { errorType } from "../errors.ts";
import type { Producer } from "../function.ts";
import { reportDependency } from "../health.ts";
import { defined, type Metrics, observe } from "../telemetry/metrics.ts";
import { injectContext } from "../telemetry/propagation.ts";
import { withSpan } from "../telemetry/span.ts";
import type { Bus } from "./bus.ts";
import { utf8Length } from "./linger.ts";

/** Attributes every Kafka span of this host carries; the broker's address when there is one. */
export function messagingAttributes(bus: Bus, topic: string) {
  return {
    "messaging.system": "kafka",
    "messaging.destination.name": topic,
    "messaging.client.id": bus.clientId,
    "server.address": bus.server?.address,
    "server.port": bus.server?.port,
  };
}

/** The labels every messaging metric of this host carries. */
export function messagingLabels(bus: Bus, topic: string) {
  return {
    messaging_system: "kafka",
    messaging_destination_name: topic,
    server_address: bus.server?.address,
    server_port: bus.server?.port,
  };
}

/** Creates a traced producer over `bus`. */
export function createProducer(bus: Bus, tracer: Tracer, metrics: Metrics): Producer {
  return {
    send(topic, message) {
      const value = typeof message.value === "string"
        ? message.value
        : JSON.stringify(message.value);
      const started = performance.now();
      return withSpan(tracer, `send ${topic}`, SpanKind.PRODUCER, {
        ...messagingAttributes(bus, topic),
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.kafka.message.key": message.key,
        "messaging.message.body.size": utf8Length(value),
      }, async (span) => {
        const headers: Record<string, string> = { ...message.headers };
        injectContext(context.active(), headers);
        const labels = { ...messagingLabels(bus, topic), messaging_operation_name: "send" };
        let partition: string | undefined;
        let error: string | undefined;
        try {
          const { batch, ...delivery } = await bus.send(topic, {
            key: message.key,
            value,
            headers,
          });
          partition = String(delivery.partition);
          span.setAttribute("messaging.destination.partition.id", partition);
          span.setAttribute("messaging.kafka.offset", Number(delivery.offset));
          if (batch) {
            span.addEvent("batch sent", {
              "messaging.batch.message_count": batch.messages,
            }, batch.sentAt);
            const destination = { messaging_system: "kafka", messaging_destination_name: topic };
            observe(metrics.messagingBatchSize, destination, batch.messages, span);
            observe(
              metrics.messagingLinger,
              destination,
              (batch.sentAt - batch.queuedAt) / 1000,
              span,
            );
          }
          reportDependency(metrics, "kafka", true);
          return delivery;
        } catch (thrown) {
          error = errorType(thrown);
          reportDependency(metrics, "kafka", false);
          throw thrown;
        } finally {
          const outcome = {
            ...labels,
            messaging_destination_partition_id: partition,
            error_type: error,
          };
          metrics.messagingSent.inc(defined(outcome));
          observe(
            metrics.messagingOperationDuration,
            { ...outcome, messaging_operation_type: "send" },
            (performance.now() - started) / 1000,
            span,
          );
        }
      });
    },
  };
}
