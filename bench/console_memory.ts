/**
 * The console's store under a full buffer: 10,000 traces shaped like the seed's Kafka flow (ten
 * spans each, real SDK spans ended through the console's SpanProcessor, with the attributes the
 * host records), and 10,000 log records. Prints the heap the store holds per span and the time
 * one span's capture takes at span end. `--raw` keeps the SDK's ReadableSpan objects instead (by
 * trace, no conversion): the alternative the compact records were chosen over.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/console_memory.ts [--raw]
 * ```
 * @module
 */
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { consoleLogSink, consoleSpanProcessor } from "../runtime/console/capture.ts";
import { ConsoleStore } from "../runtime/console/store.ts";
import { installContextManager } from "../runtime/telemetry/provider.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
installContextManager();

const TRACES = 10_000;
const raw = Deno.args.includes("--raw");
let store = new ConsoleStore();
let rawSpans = new Map<string, ReadableSpan[]>();
const keepRaw: SpanProcessor = {
  onStart() {},
  onEnd(span) {
    const id = span.spanContext().traceId;
    let list = rawSpans.get(id);
    if (!list) {
      rawSpans.set(id, list = []);
      if (rawSpans.size > TRACES) rawSpans.delete(rawSpans.keys().next().value!);
    }
    list.push(span);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const processor = raw ? keepRaw : consoleSpanProcessor({ addSpan: (span) => store.addSpan(span) });
const providers = new Map<string, BasicTracerProvider>();
const tracer = (service: string) => {
  let provider = providers.get(service);
  if (!provider) {
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": service, "host.name": "bench" }),
      spanProcessors: [processor],
    });
    providers.set(service, provider);
  }
  return provider.getTracer("otel-functions-runtime");
};

/** One flow trace: the spans and attributes the host records for the Kafka path. */
function flow(i: number): void {
  const id = crypto.randomUUID();
  const step = (
    service: string,
    name: string,
    kind: SpanKind,
    attrs: Record<string, string | number>,
    inner?: () => void,
  ) => {
    const span = tracer(service).startSpan(name, { kind, attributes: attrs });
    context.with(trace.setSpan(context.active(), span), () => inner?.());
    span.end();
  };
  const http = (path: string) => ({
    "http.request.method": "POST",
    "url.path": path,
    "url.scheme": "http",
    "server.address": "127.0.0.1",
    "server.port": 8001,
    "http.route": path,
    "http.response.status_code": 200,
    "faas.trigger": "http",
  });
  const kafka = (topic: string) => ({
    "messaging.system": "kafka",
    "messaging.destination.name": topic,
    "messaging.operation.type": "process",
    "messaging.consumer.group.name": "app2",
    "messaging.destination.partition.id": "0",
    "messaging.kafka.offset": i,
    "messaging.kafka.message.key": id,
  });
  context.with(
    ROOT_CONTEXT,
    () =>
      step("executor", "call-post-message", SpanKind.INTERNAL, {
        "faas.trigger": "timer",
        "faas.name": "call-post-message",
      }, () =>
        step("executor", "POST", SpanKind.CLIENT, {
          "http.request.method": "POST",
          "url.full": "http://127.0.0.1:8001/Message/Post-Message",
        }, () =>
          step(
            "app1",
            "POST /Message/Post-Message",
            SpanKind.SERVER,
            http("/Message/Post-Message"),
            () =>
              step("app1", "send Purchase", SpanKind.PRODUCER, kafka("Purchase"), () =>
                step("app2", "process Purchase", SpanKind.CONSUMER, kafka("Purchase"), () =>
                  step("app2", "POST", SpanKind.CLIENT, {
                    "http.request.method": "POST",
                    "url.full": "http://127.0.0.1:8003/Message/Post-Message",
                  }, () =>
                    step(
                      "app3",
                      "POST /Message/Post-Message",
                      SpanKind.SERVER,
                      http("/Message/Post-Message"),
                      () =>
                        step("app3", "send Purchase2", SpanKind.PRODUCER, kafka("Purchase2"), () =>
                          step(
                            "app4",
                            "process Purchase2",
                            SpanKind.CONSUMER,
                            kafka("Purchase2"),
                            () =>
                              step("app4", "SET", SpanKind.CLIENT, {
                                "db.system.name": "redis",
                                "db.operation.name": "SET",
                                "server.address": "127.0.0.1",
                                "server.port": 6379,
                              }),
                          )),
                    )))),
          ))),
  );
}

// Warm up on a store of its own, then measure a fresh one.
for (let i = 0; i < 2000; i++) flow(i);
store = new ConsoleStore();
rawSpans = new Map();
gc();
const before = Deno.memoryUsage().heapUsed;
const started = performance.now();
for (let i = 0; i < TRACES; i++) flow(i);
const elapsed = performance.now() - started;
gc();
const afterSpans = Deno.memoryUsage().heapUsed;
const log = consoleLogSink(store);
for (let i = 0; i < 10_000; i++) {
  log({
    time: new Date().toISOString(),
    level: "info",
    service: "app1",
    message: "message published",
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    span_id: "00f067aa0ba902b7",
    message_id: crypto.randomUUID(),
    topic: "Purchase",
  });
}
gc();
const after = Deno.memoryUsage().heapUsed;
const stats = store.stats();

// Capture alone: the processor's onEnd on spans already ended (each a trace of its own), best
// of five passes.
const spans: Parameters<typeof processor.onEnd>[0][] = [];
const collect = new BasicTracerProvider({
  spanProcessors: [{
    onStart() {},
    onEnd: (s) => spans.push(s),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  }],
});
for (let i = 0; i < 10_000; i++) {
  collect.getTracer("t").startSpan("x", { attributes: { a: 1, b: "two" } }).end();
}
let captureNs = Infinity;
for (let pass = 0; pass < 5; pass++) {
  // A small buffer, so nine spans in ten evict the oldest trace: the steady state of a full one.
  const capture = consoleSpanProcessor(new ConsoleStore({ maxTraces: 1000 }));
  const t0 = performance.now();
  for (const span of spans) capture.onEnd(span);
  captureNs = Math.min(captureNs, (performance.now() - t0) * 1e6 / spans.length);
}

console.log(JSON.stringify({
  traces: stats.traces.kept,
  mode: raw ? "ReadableSpan kept" : "compact SpanRecord",
  spans: raw ? [...rawSpans.values()].reduce((n, list) => n + list.length, 0) : stats.spans.kept,
  logs: stats.logs.kept,
  spanHeapBytes: afterSpans - before,
  bytesPerSpan: Math.round((afterSpans - before) / (TRACES * 10)),
  bytesPerLog: Math.round((after - afterSpans) / stats.logs.kept),
  flowUsPerTrace: Math.round(elapsed * 1000 / TRACES),
  captureNsPerSpan: Math.round(captureNs),
}));
