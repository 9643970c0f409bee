/**
 * app2: consumes `Purchase` (group `app2`) and hands each message to app3.
 * @module
 */
import { defineService } from "../../runtime/mod.ts";
import { forwardPurchase } from "./forward_purchase.ts";
import { settings } from "./settings.ts";

/** The app2 service. */
export const app2 = defineService({
  name: "app2",
  port: 8002,
  uses: [],
  settings,
  consumers: [forwardPurchase],
});
