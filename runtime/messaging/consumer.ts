/**
 * Runs a Kafka-triggered function: a CONSUMER span `process <topic>` per message, child of the
 * producer's context in its headers and linked to it (the conventions' correlation, which
 * survives tools that drop the parent). The messages of a fetched batch are handled several at once (at most
 * `concurrency` per function), in order per key: a message starts only after every earlier one
 * with its key in the partition is done. An offset is resolved (and so committed) only when every
 * message before it in the partition is done, so a crash redelivers, never skips. Retries use
 * exponential backoff; after the last attempt (or at once
 * for a {@linkcode PermanentError}) the message goes to `<topic>.DLQ` with the original key,
 * value and headers, the error and the trace context, so a poison message never blocks its
 * partition. A {@linkcode DependencyUnavailableError} (an outage, or a dependency refusing the
 * host's credentials) spends no attempt: the message waits for the dependency instead of being
 * dead-lettered by an outage; any other error is the message's failure. An offset is
 * resolved only after its message was handled or dead-lettered.
 *
 * @example
 * ```ts
 * import type { ConsumerRunOptions } from "./consumer.ts";
 * // const subscription = await runConsumer({ fn, ctx, bus, telemetry, producer, ... });
 * ```
 * @module
 */
import { context, type Link, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  DependencyMisconfiguredError,
  DependencyUnavailableError,
  errorType,
  PermanentError,
} from "../errors.ts";
import type { FunctionContext, IncomingMessage, KafkaFunction, Producer } from "../function.ts";
import type { Histogram } from "prom-client";
import { defined, type Labels, type Metrics, observe } from "../telemetry/metrics.ts";
import { extractContext } from "../telemetry/propagation.ts";
import { exportsBehind } from "../telemetry/batcher.ts";
import type { ServiceTelemetry } from "../telemetry/provider.ts";
import { isColdStart, recordError } from "../telemetry/span.ts";
import type { Batch, BatchControl, Bus, StoredMessage, Subscription } from "./bus.ts";
import { utf8Length } from "./linger.ts";
import { messagingAttributes, messagingLabels } from "./producer.ts";

/** Suffix of dead-letter topics. */
export const DLQ_SUFFIX = ".DLQ";
const MAX_BACKOFF_MS = 10_000;

/** What {@linkcode runConsumer} needs. */
export interface ConsumerRunOptions {
  readonly fn: KafkaFunction;
  readonly ctx: FunctionContext;
  readonly bus: Bus;
  readonly telemetry: ServiceTelemetry;
  /** Publishes dead letters (traced like any send). */
  readonly producer: Producer;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  /** Messages handled at once across the function's partitions (default 64). */
  readonly concurrency?: number;
}

/** How often a batch in progress heartbeats (kafkajs sends one per heartbeat interval at most). */
const HEARTBEAT_EVERY_MS = 500;

/** Subscribes `fn` to its topic in its group. */
export function runConsumer(options: ConsumerRunOptions): Promise<Subscription> {
  const { fn, bus, telemetry } = options;
  // They start at 0, so the first dead letter or retry is an increase an alert can see.
  telemetry.metrics.messagingDeadLettered.inc(groupLabels(fn), 0);
  telemetry.metrics.messagingRetries.inc(groupLabels(fn), 0);
  const slots = new Slots(options.concurrency ?? 64);
  const run: Run = {
    ...options,
    seen: new Set(),
    spanName: `process ${fn.topic}`,
    attributes: {
      ...messagingAttributes(bus, fn.topic),
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.consumer.group.name": fn.group,
      "faas.trigger": "pubsub",
      "faas.name": fn.name,
    },
    partitions: new Map(),
  };
  return bus.subscribe(
    fn.group,
    fn.topic,
    (batch, control) => handleBatch(run, batch, control, slots),
  );
}

/** The labels of the messaging metrics kept per topic and group. */
function groupLabels(fn: KafkaFunction) {
  return {
    messaging_system: "kafka",
    messaging_destination_name: fn.topic,
    messaging_consumer_group_name: fn.group,
  };
}

/** The labels of the consumed counter and the process duration. */
type ProcessLabel = Metrics["messagingProcessDuration"] extends Histogram<infer L> ? L : never;

/** What every message of one partition shares, worked out once. */
interface PartitionShared {
  readonly id: string;
  /** Of the consumed counter and the process duration (when handled without failing). */
  readonly labels: Labels<ProcessLabel>;
  readonly lagLabels: ReturnType<typeof groupLabels> & {
    readonly messaging_destination_partition_id: string;
  };
}

function processLabels(options: ConsumerRunOptions, partition: string): Labels<ProcessLabel> {
  const { bus, fn } = options;
  return defined<ProcessLabel>({
    ...messagingLabels(bus, fn.topic),
    messaging_consumer_group_name: fn.group,
    messaging_operation_name: "process",
    messaging_destination_partition_id: partition,
  });
}

interface Run extends ConsumerRunOptions {
  /** Functions that have had their first (cold) invocation. */
  readonly seen: Set<string>;
  /** The CONSUMER span's name and the attributes that are the same for every message. */
  readonly spanName: string;
  readonly attributes: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly partitions: Map<number, PartitionShared>;
}

function partitionShared(options: Run, partition: number): PartitionShared {
  let shared = options.partitions.get(partition);
  if (shared === undefined) {
    const id = String(partition);
    shared = {
      id,
      labels: processLabels(options, id),
      lagLabels: { ...groupLabels(options.fn), messaging_destination_partition_id: id },
    };
    options.partitions.set(partition, shared);
  }
  return shared;
}

/** How often, at most, a batch in progress sets the consumer lag gauge. */
const LAG_EVERY_MS = 50;

/**
 * Handles one partition's batch: up to the free slots at once, in order per key, resolving the
 * offset below which everything is done as it moves. Stops starting messages when the consumer
 * stops or loses the partition, and returns once those it started have finished.
 */
async function handleBatch(
  options: Run,
  batch: Batch,
  control: BatchControl,
  slots: Slots,
): Promise<void> {
  const { telemetry } = options;
  const { messages } = batch;
  const shared = partitionShared(options, batch.partition);
  // Each message's successor with the same key (-1: none): it starts once the message is done.
  const after = new Int32Array(messages.length).fill(-1);
  const lastOfKey = new Map<string, number>();
  const ready: number[] = [];
  for (let index = 0; index < messages.length; index++) {
    const key = messages[index].key;
    const before = key === null ? undefined : lastOfKey.get(key);
    if (before === undefined) ready.push(index);
    else after[before] = index;
    if (key !== null) lastOfKey.set(key, index);
  }
  let next = 0; // the first of `ready` not started yet
  const done = new Uint8Array(messages.length);
  let watermark = 0; // messages before it are all done
  let measured = 0; // the watermark the lag gauge last counted from
  let lagSetAt = performance.now();
  let halted = false;
  let failure: { error: unknown } | undefined;
  let running = 0;
  let idle: (() => void) | undefined; // wakes the loop when a message finishes
  const stopping = () =>
    halted || failure !== undefined || !control.isRunning() || control.isStale();
  const heartbeat = () =>
    control.heartbeat().catch((error) => {
      failure ??= { error };
    });
  const heartbeats = setInterval(heartbeat, HEARTBEAT_EVERY_MS);

  // The gauge follows the resolved offset at most every PROGRESS_EVERY_MS, and at the end.
  const setLag = () => {
    if (watermark === measured) return;
    measured = watermark;
    lagSetAt = performance.now();
    const high = Number(control.highWatermark?.() ?? batch.highWatermark);
    telemetry.metrics.messagingConsumerLag.set(
      shared.lagLabels,
      Math.max(0, high - Number(messages[watermark - 1].offset) - 1),
    );
  };

  const finish = (index: number, handled: boolean) => {
    if (!handled) {
      halted = true; // the consumer stopped mid-message: leave it and the rest for redelivery
      return;
    }
    done[index] = 1;
    if (after[index] !== -1) ready.push(after[index]);
    if (index !== watermark) return;
    while (watermark < messages.length && done[watermark]) watermark++;
    control.resolveOffset(messages[watermark - 1].offset);
    if (performance.now() - lagSetAt >= LAG_EVERY_MS) setLag();
  };
  const settle = () => {
    running--;
    slots.release();
    const wake = idle;
    idle = undefined;
    wake?.();
  };

  try {
    while (!stopping()) {
      if (next === ready.length) {
        if (running === 0) break;
        await new Promise<void>((resolve) => idle = resolve);
        continue;
      }
      const turning = eventLoopTurn();
      if (turning) await turning;
      const slot = slots.acquire();
      if (slot) await slot;
      if (stopping()) {
        slots.release();
        break;
      }
      const index = ready[next++];
      running++;
      processMessage(options, shared, batch, messages[index], control).then(
        (handled) => {
          finish(index, handled);
          settle();
        },
        (error) => {
          failure ??= { error };
          settle();
        },
      );
    }
    while (running > 0) await new Promise<void>((resolve) => idle = resolve);
  } finally {
    clearInterval(heartbeats);
    setLag();
  }
  await heartbeat();
  if (failure) throw failure.error;
}

/** A counting semaphore: the messages a function handles at once, across its partitions. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Longest the consumers may keep the event loop to themselves. */
const TURN_EVERY_MS = 10;
let lastTurn = performance.now();
let turn: Promise<void> | undefined;

/** Longest a message waits for the telemetry exports to catch up before it goes on regardless. */
const EXPORT_WAIT_MS = 200;

/**
 * Lets the event loop turn every few milliseconds. Handlers that never wait on I/O would
 * otherwise run whole batches (of every partition and consumer at once) as one chain of
 * microtasks, starving everything else in the process: telemetry exports, whose queues then
 * overflow and drop, HTTP requests and timers. While an export queue that is being accepted is
 * more than half full, the turn lasts until it is not (for at most {@linkcode EXPORT_WAIT_MS}):
 * consumers slow down instead of their spans and log records being dropped. All consumers wait
 * for the same turn.
 */
function eventLoopTurn(): Promise<void> | undefined {
  if (performance.now() - lastTurn < TURN_EVERY_MS && !exportsBehind()) return undefined;
  turn ??= new Promise((resolve) => {
    const since = performance.now();
    const wait = () =>
      setTimeout(() => {
        if (exportsBehind() && performance.now() - since < EXPORT_WAIT_MS) return wait();
        turn = undefined;
        lastTurn = performance.now();
        resolve();
      }, 0);
    wait();
  });
  return turn;
}

/** Handles one message; false when the consumer stopped before it was done. */
function processMessage(
  options: Run,
  shared: PartitionShared,
  batch: Batch,
  message: StoredMessage,
  control: BatchControl,
): Promise<boolean> {
  const { fn, ctx, telemetry } = options;
  const { metrics } = telemetry;
  const started = performance.now();
  const parent = extractContext(message.headers);
  const producer = trace.getSpanContext(parent);
  const links: Link[] = producer && trace.isSpanContextValid(producer)
    ? [{ context: producer }]
    : [];
  const span = telemetry.tracer.startSpan(options.spanName, {
    kind: SpanKind.CONSUMER,
    links,
  }, parent);
  // Set on the started span rather than passed to startSpan, which copies and checks them once
  // more (no sampler OTEL_TRACES_SAMPLER configures reads them); built only for a span that
  // records. The cold start is counted either way.
  const coldStart = isColdStart(options.seen, fn.name);
  if (span.isRecording()) {
    span.setAttributes(options.attributes);
    span.setAttributes({
      "messaging.destination.partition.id": shared.id,
      "messaging.kafka.offset": Number(message.offset),
      "messaging.kafka.message.key": message.key ?? undefined,
      "messaging.message.body.size": utf8Length(message.value),
      "faas.invocation_id": crypto.randomUUID(),
      "faas.coldstart": coldStart,
    });
  }
  const incoming: IncomingMessage = {
    topic: fn.topic,
    partition: batch.partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers,
    timestamp: new Date(Number(message.timestamp)),
  };
  const { labels } = shared;
  metrics.messagingConsumed.inc(labels);
  let failed: string | undefined;
  let finished = false;
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      let failures = 0;
      for (let attempt = 1;; attempt++) {
        try {
          await fn.handle(incoming, ctx);
          finished = true;
          return true;
        } catch (error) {
          // An outage is not the message's fault: hold the partition and wait for the
          // dependency instead of spending attempts (lag grows, readiness and alerts say why).
          const outage = error instanceof DependencyUnavailableError;
          if (!outage) failures++;
          if (error instanceof PermanentError || failures >= options.maxAttempts) {
            recordError(span, error);
            failed = errorType(error);
            await deadLetter(options, incoming, error, attempt);
            metrics.messagingDeadLettered.inc(groupLabels(fn));
            finished = true;
            return true;
          }
          metrics.messagingRetries.inc(groupLabels(fn));
          span.addEvent("retry", { attempt, "error.type": errorType(error) });
          // During a long outage, say so on the first retry and then every tenth.
          if (error instanceof DependencyMisconfiguredError) {
            if (attempt % 10 === 1) {
              ctx.log.error("dependency refuses the configuration; waiting for it to be fixed", {
                function: fn.name,
                attempt,
                dependency: error.dependency,
                reason: error.reason,
              });
            }
          } else if (!outage || attempt % 10 === 1) {
            ctx.log.warn(
              outage ? "dependency unavailable; retrying" : "message handling failed; retrying",
              {
                function: fn.name,
                attempt,
                error_type: errorType(error),
                error: error as Error,
              },
            );
          }
          const delay = outage
            ? Math.max(options.backoffMs, 100) * 2 ** Math.min(attempt - 1, 4)
            : options.backoffMs * 2 ** (failures - 1);
          if (!await pause(delay, control)) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: "stopped before retrying" });
            return false;
          }
        }
      }
    } finally {
      span.end();
      // A message left for redelivery (the consumer stopped) was not processed: not measured.
      if (finished) {
        observe(
          metrics.messagingProcessDuration,
          failed === undefined ? labels : { ...labels, error_type: failed },
          (performance.now() - started) / 1000,
          span,
        );
      }
    }
  });
}

/** Waits about `delayMs` (jittered, at most 10 s), heartbeating; false if the consumer stops. */
async function pause(delayMs: number, control: BatchControl): Promise<boolean> {
  const until = performance.now() + Math.min(MAX_BACKOFF_MS, delayMs) * (0.5 + Math.random() / 2);
  while (performance.now() < until) {
    if (!control.isRunning() || control.isStale()) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - performance.now())));
    await control.heartbeat();
  }
  return control.isRunning() && !control.isStale();
}

async function deadLetter(
  options: ConsumerRunOptions,
  message: IncomingMessage,
  error: unknown,
  attempts: number,
): Promise<void> {
  const { fn, ctx, producer } = options;
  const reason = error instanceof Error ? error.message.slice(0, 500) : String(error);
  ctx.log.error("message dead-lettered", {
    function: fn.name,
    message_id: message.key ?? undefined,
    topic: fn.topic,
    partition: message.partition,
    offset: message.offset,
    attempts,
    error_type: errorType(error),
    error: error instanceof Error ? error : reason,
    dead_letter_topic: fn.topic + DLQ_SUFFIX,
  });
  // The current (failed) process span is injected by the producer, so the dead letter stays in
  // the message's trace; the original headers ride along for replays.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (!["traceparent", "tracestate", "baggage"].includes(name)) headers[name] = value;
  }
  Object.assign(headers, {
    "dlq.original.topic": fn.topic,
    "dlq.original.partition": String(message.partition),
    "dlq.original.offset": message.offset,
    "dlq.original.traceparent": message.headers.traceparent ?? "",
    "dlq.consumer.group": fn.group,
    "dlq.attempts": String(attempts),
    "dlq.error.type": errorType(error),
    "dlq.error.message": reason,
    "dlq.failed_at": new Date().toISOString(),
  });
  await producer.send(fn.topic + DLQ_SUFFIX, {
    key: message.key ?? "",
    value: message.value,
    headers,
  });
}
