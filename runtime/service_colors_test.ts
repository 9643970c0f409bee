import assert from "node:assert/strict";
import { declareServices, serviceColor, serviceRank } from "./service_colors.ts";

Deno.test("service colours: declared services take the palette in order; others hash past them", () => {
  declareServices(["gateway", "orders", "billing"]);
  try {
    const declared = ["gateway", "orders", "billing"].map((name) => serviceColor(name).hex);
    assert.equal(new Set(declared).size, 3);
    assert.deepEqual(["gateway", "orders", "billing", "other"].map(serviceRank), [0, 1, 2, -1]);
    for (const name of ["search", "payments", "x", "a-much-longer-service-name"]) {
      const color = serviceColor(name);
      assert.ok(!declared.includes(color.hex), `${name} took a declared service's colour`);
      assert.deepEqual(serviceColor(name), color, "stable for the same name");
    }
  } finally {
    declareServices([]);
  }
});
