import assert from "node:assert/strict";
import { countNested } from "./otlp_receiver.ts";

Deno.test("countNested: counts the spans of an OTLP/protobuf export request", () => {
  const field = (number: number, body: number[]) => [(number << 3) | 2, body.length, ...body];
  const span = field(2, [0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x40, 0x96, 0x01]); // a fixed64 and a varint inside
  const scopeSpans = field(2, [...field(1, []), ...span, ...span, ...span]);
  const resourceSpans = field(1, [...field(1, []), ...scopeSpans, ...field(2, [...span])]);
  const request = new Uint8Array([...resourceSpans, ...resourceSpans]);
  assert.equal(countNested(request, [1, 2, 2]), 8);
  assert.throws(() => countNested(new Uint8Array([0x0a, 0x80]), [1, 2, 2]), /truncated/);
});
