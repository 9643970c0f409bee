/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * `deno task screenshots`: runs the real host (embedded backends, ephemeral ports, the executor
 * every second), lets the flow run, invokes a function from the Functions page, and photographs
 * each console page in headless Chromium into docs/console-*.png (1280 × 800 CSS pixels, 2×).
 *
 *     deno task screenshots [--seconds 20] [--out docs]
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Page } from "puppeteer-core";
import { browserMissing, launchBrowser, openPage } from "./_browser.ts";
import { waitFor } from "../testing/wait.ts";
import { startTestHost } from "./_harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "20" }, out: { type: "string", default: "docs" } },
});
const seconds = Number(values.seconds);
const out = values.out!;
const missing = browserMissing();
if (missing) {
  console.error(`cannot take screenshots: ${missing}`);
  Deno.exit(1);
}

const test = await startTestHost();
const browser = await launchBrowser();
const written: string[] = [];
try {
  const base = test.host.console?.url;
  if (!base) throw new Error("the host serves no console");
  console.log(`console at ${base}; letting the flow run for ${seconds} s`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const list = await waitFor("complete Kafka traces", async () => {
    const response = await fetch(`${base}/api/traces?name=process+Purchase2&limit=20`);
    const { traces } = await response.json() as {
      traces: { traceId: string; spanCount: number }[];
    };
    const complete = traces.filter((trace) => trace.spanCount === 10);
    return complete.length > 0 ? complete : undefined;
  });
  const kafkaTrace = list[0].traceId;

  const shoot = async (
    name: string,
    path: string,
    prepare?: (page: Page) => Promise<void>,
    options: { height?: number; full?: boolean } = {},
  ) => {
    const { page, errors } = await openPage(browser, {
      width: 1280,
      height: options.height ?? 800,
      scale: 2,
    });
    await page.goto(`${base}${path}`, { waitUntil: "networkidle2" }).catch(() => {});
    await page.waitForSelector("main");
    await prepare?.(page);
    await page.evaluate(() => document.fonts.ready);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const file = `${out}/console-${name}.png`;
    await page.screenshot({ path: file as `${string}.png`, fullPage: options.full ?? false });
    if (errors.length > 0) throw new Error(`${path}: ${errors.join("; ")}`);
    written.push(file);
    await page.close();
  };

  await shoot("traces", "/");
  await shoot("trace", `/traces/${kafkaTrace}`, undefined, { height: 760 });
  const trace = await (await fetch(`${base}/api/traces/${kafkaTrace}`)).json() as {
    spans: { spanId: string; name: string }[];
  };
  const consumer = trace.spans.find((span) => span.name === "process Purchase2")!;
  await shoot(
    "trace-details",
    `/traces/${kafkaTrace}?span=${consumer.spanId}`,
    async (page) => {
      await page.evaluate(() => scrollTo(0, 0));
    },
    { height: 1000 },
  );
  await shoot("graph", "/graph", undefined, { height: 700 });
  await shoot("logs", "/logs");
  await shoot("metrics", "/metrics", undefined, { height: 720 });
  await shoot("functions", "/functions", async (page) => {
    const route = `[data-service="app1"] tr[data-route="POST /Message"]`;
    await page.click(`${route} summary`);
    await page.click(`${route} button[type=submit]`);
    await page.waitForSelector(`${route} a.trace-link`, { timeout: 15_000 });
  }, { height: 900 });
  console.log(written.join("\n"));
} finally {
  await browser.shutdown();
  await test.stop();
}
