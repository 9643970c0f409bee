/**
 * app2: consumes `Purchase` (group `app2`) and hands each message to app3.
 * @module
 */
import { defineService } from "../../runtime/mod.ts";
import { forwardPurchase } from "./forward_purchase.ts";

/** The app2 service. */
export const app2 = defineService({
  name: "app2",
  uses: [],
  consumers: [forwardPurchase],
});
