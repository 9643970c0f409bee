import assert from "node:assert/strict";
import { formatRatio } from "./report.ts";

Deno.test("formatRatio: three decimals, cut, so a ratio under its target never shows as it", () => {
  assert.equal(formatRatio(26752 / 89185), "0.299"); // 0.29996…: rounding would print 0.300
  assert.equal(formatRatio(0.3), "0.300");
  assert.equal(formatRatio(1.4903), "1.490");
  assert.equal(formatRatio(1), "1.000");
  assert.equal(formatRatio(undefined), "n/a");
  assert.equal(formatRatio(NaN), "n/a");
});
