/**
 * app2's Kafka-triggered function: each `Purchase` message is POSTed to app3
 * `/Message/Post-Message`. A rejected message (4xx) is dead-lettered; a failing app3 (5xx) is
 * retried, then dead-lettered; an unreachable or unavailable one (503) is waited for. The fault
 * flag `app2ConsumeDelayMs` makes app2 take that long per message, one message at a time however
 * many it handles at once, so lag builds on `Purchase`.
 * @module
 */
import {
  DependencyUnavailableError,
  type KafkaFunction,
  PermanentError,
} from "../../runtime/mod.ts";
import { postJson, succeeded } from "../_shared/call.ts";
import { delayInLine } from "../_shared/faults.ts";
import { messageFromRecord } from "../_shared/message.ts";
import type { App2Config } from "./settings.ts";

/** Statuses worth retrying although they are 4xx. */
const TRANSIENT = new Set([408, 425, 429]);

/** Forwards `Purchase` messages to app3. */
export const forwardPurchase: KafkaFunction<never, App2Config> = {
  name: "forward-purchase",
  topic: "Purchase",
  group: "app2",
  async handle(record, ctx) {
    const message = messageFromRecord(record);
    await delayInLine(ctx, "app2ConsumeDelayMs");
    const reply = await postJson(
      ctx,
      "app3",
      `${ctx.config.app3Url}/Message/Post-Message`,
      message,
    );
    if (succeeded(reply)) {
      ctx.log.info("message forwarded to app3", { message_id: message.id });
      return;
    }
    if (reply.status === 503) throw new DependencyUnavailableError("app3");
    if (reply.status >= 400 && reply.status < 500 && !TRANSIENT.has(reply.status)) {
      throw new PermanentError(`app3 rejected the message with ${reply.status}`);
    }
    throw new Error(`app3 answered ${reply.status}`);
  },
};
