/**
 * W3C trace context and baggage across process boundaries: HTTP headers and Kafka message headers.
 *
 * @example
 * ```ts
 * import { context } from "@opentelemetry/api";
 * import { extractContext, injectContext } from "./propagation.ts";
 * const headers: Record<string, string> = {};
 * injectContext(context.active(), headers);
 * const parent = extractContext({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
 * ```
 * @module
 */
import {
  type Context,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";

const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

/** Header carriers: fetch `Headers`, or a plain record (Kafka headers may hold bytes). */
export type Carrier = Headers | Record<string, string | Uint8Array | undefined>;

const decoder = new TextDecoder();

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier),
  get(carrier, key) {
    const value = carrier instanceof Headers ? carrier.get(key) : carrier[key];
    if (value === null || value === undefined) return undefined;
    return typeof value === "string" ? value : decoder.decode(value);
  },
};

const setter: TextMapSetter<Carrier> = {
  set(carrier, key, value) {
    if (carrier instanceof Headers) carrier.set(key, value);
    else carrier[key] = value;
  },
};

/** Writes `traceparent`, `tracestate` and `baggage` for `ctx` into `carrier`. */
export function injectContext(ctx: Context, carrier: Carrier): void {
  propagator.inject(ctx, carrier, setter);
}

/** Reads the remote parent and baggage from `carrier`; the root context when there is none. */
export function extractContext(carrier: Carrier): Context {
  return propagator.extract(ROOT_CONTEXT, carrier, getter);
}
