/**
 * The kafkajs client and consumer settings of the host (runtime/messaging/kafka.ts), for the bare
 * sides of the benchmark, so "bare" differs from the host only in what the host adds.
 *
 * @example
 * ```ts
 * import { Kafka } from "kafkajs";
 * import { clientSettings, consumerSettings } from "./kafka_settings.ts";
 * const kafka = new Kafka(clientSettings(["127.0.0.1:9092"]));
 * const consumer = kafka.consumer(consumerSettings("group"));
 * ```
 * @module
 */
import { type ConsumerConfig, type KafkaConfig, logLevel } from "kafkajs";

/** The session timeout of both sides (the host's default `KAFKA_SESSION_TIMEOUT_MS`). */
export const SESSION_TIMEOUT_MS = 10_000;

/** What the host's `connectKafka` passes to `new Kafka`. */
export function clientSettings(brokers: string[]): KafkaConfig {
  return {
    clientId: "otel-functions",
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    logLevel: logLevel.WARN,
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
  };
}

/** What the host's `KafkaSubscription` passes to `kafka.consumer`. */
export function consumerSettings(groupId: string): ConsumerConfig {
  return {
    groupId,
    sessionTimeout: SESSION_TIMEOUT_MS,
    rebalanceTimeout: SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.max(100, Math.floor(SESSION_TIMEOUT_MS / 10)),
    allowAutoTopicCreation: true,
    maxWaitTimeInMs: 100,
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 },
  };
}

/** What the host's `KafkaSubscription` passes to `consumer.run`, besides the handler. */
export const RUN_SETTINGS = { partitionsConsumedConcurrently: 4, eachBatchAutoResolve: false };
