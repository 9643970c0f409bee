/**
 * `deno task chaos [--seed N] [--duration 10m] [--backends embedded,real] [--rate 40]`: runs
 * the flow under load with seeded faults (tests/_chaos.ts) against each backend set, prints
 * what happened, and exits 1 when a target was missed (a message lost, a partition stuck longer
 * than its retry budget for no fault's sake, a request unanswered within its deadline). Without
 * `--seed` a random one is drawn and printed, so a run can be replayed. Real servers need
 * `DATABASE_URL`, `REDIS_URL` and kcat; `deno task reliability` writes the full run into
 * docs/RELIABILITY.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FAULT_KINDS, formatChaos, runChaos } from "./_chaos.ts";
import { realBackendsUnavailable } from "./_scenarios.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    duration: { type: "string", default: "2m" },
    backends: { type: "string" },
    rate: { type: "string", default: "40" },
  },
});

/** `90`, `90s`, `10m` → milliseconds. */
function duration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration ${text}: expected e.g. 90s or 10m`);
  const value = Number(match[1]);
  return match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1000;
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const unavailable = realBackendsUnavailable();
const wanted = values.backends?.split(",") ?? ["embedded", ...(unavailable ? [] : ["real"])];
for (const name of wanted) {
  if (!(name in FAULT_KINDS)) throw new Error(`--backends: unknown "${name}" (embedded, real)`);
}
if (wanted.includes("real") && unavailable) throw new Error(`real backends: ${unavailable}`);
if (values.backends === undefined && unavailable) {
  console.error(`[chaos] real servers skipped: ${unavailable}`);
}

let failed = false;
for (const backends of wanted as Array<"embedded" | "real">) {
  const report = await runChaos({
    seed,
    durationMs: duration(values.duration),
    backends,
    rate: Number(values.rate),
    say: (line) => console.error(`[chaos ${backends}] ${line}`),
  });
  console.log(formatChaos(report));
  failed ||= !report.passed;
}
Deno.exit(failed ? 1 : 0);
