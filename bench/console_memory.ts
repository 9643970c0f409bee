/**
 * The console's store under a full buffer: 10,000 traces shaped like the seed's Kafka flow (ten
 * spans each, real SDK spans ended through the console's SpanProcessor, with the attributes the
 * host records), and 10,000 log records. Prints the heap the store holds per span and the time
 * one span's capture takes at span end.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/console_memory.ts
 * ```
 * @module
 */
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { consoleLogSink, consoleSpanProcessor } from "../runtime/console/capture.ts";
import { ConsoleStore } from "../runtime/console/store.ts";
import { installContextManager } from "../runtime/telemetry/provider.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
installContextManager();

const TRACES = 10_000;
let store = new ConsoleStore();
const processor = consoleSpanProcessor({ addSpan: (span) => store.addSpan(span) });
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

// Capture alone: the processor's onEnd on spans already ended, best of five passes.
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
  const capture = consoleSpanProcessor(new ConsoleStore());
  const t0 = performance.now();
  for (const span of spans) capture.onEnd(span);
  captureNs = Math.min(captureNs, (performance.now() - t0) * 1e6 / spans.length);
}

console.log(JSON.stringify({
  traces: stats.traces.kept,
  spans: stats.spans.kept,
  logs: stats.logs.kept,
  spanHeapBytes: afterSpans - before,
  bytesPerSpan: Math.round((afterSpans - before) / stats.spans.kept),
  bytesPerLog: Math.round((after - afterSpans) / stats.logs.kept),
  flowUsPerTrace: Math.round(elapsed * 1000 / TRACES),
  captureNsPerSpan: Math.round(captureNs),
}));
