/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * The console in real headless Chromium against the real host (in process, embedded backends,
 * ephemeral ports, the executor ticking every second): every page opens without a script error;
 * the flow's traces appear live without a reload; a waterfall has the flow's structure and
 * selects and collapses; a log line leads to its trace and span; a function invoked from the
 * Functions page and a cron run now lead to their traces; the filters narrow the list; the pages
 * fit 800 px. Skipped, saying so, where no chromium is installed.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { browserMissing, launchBrowser, type LaunchedBrowser, openPage } from "./_browser.ts";
import { startTestHost, type TestHost } from "./_harness.ts";
import { testWhen } from "../runtime/_test_needs.ts";

/** Waits until `fn` (run in the page) returns a truthy value; returns it. */
async function until<T>(page: Page, what: string, fn: () => T, timeoutMs = 15_000): Promise<T> {
  try {
    const handle = await page.waitForFunction(fn, { timeout: timeoutMs, polling: 100 });
    return await handle.jsonValue() as T;
  } catch (error) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${page.url()}`, {
      cause: error,
    });
  }
}

testWhen(browserMissing(), {
  name: "console in a browser",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    let test: TestHost | undefined;
    let browser: LaunchedBrowser | undefined;
    try {
      [test, browser] = await Promise.all([startTestHost(), launchBrowser()]);
      const base = test.host.console?.url;
      assert.ok(base, "the test host serves a console");
      const errors: string[] = [];
      const open = async (path: string, width = 1280) => {
        const opened = await openPage(browser!, { width, height: 900 });
        opened.page.on("pageerror", (error) => errors.push(`${path}: ${error}`));
        await opened.page.goto(`${base}${path}`, { waitUntil: "domcontentloaded" });
        return opened.page;
      };

      await t.step("traces arrive live on an open Traces page, without a reload", async () => {
        const page = await open("/");
        await until(
          page,
          "the live indicator",
          () => document.getElementById("live")?.dataset.state === "live",
        );
        const before = await page.$$eval(
          "tr[data-trace-id]",
          (rows) => rows.map((row) => (row as HTMLElement).dataset.traceId),
        );
        await page.evaluate((ids) => {
          const state = globalThis as unknown as { marker: number; before: string[] };
          state.marker = 42;
          state.before = ids as string[];
        }, before);
        const fresh = await until(page, "a trace that was not there at first", () => {
          const known = (globalThis as unknown as { before: string[] }).before;
          const rows = [...document.querySelectorAll<HTMLElement>("tr[data-trace-id]")];
          return rows.length >= 2 && rows.find((row) => !known.includes(row.dataset.traceId!))
            ?.dataset.traceId;
        });
        assert.ok(typeof fresh === "string" && !before.includes(fresh), `${fresh} is new`);
        assert.equal(
          await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker),
          42,
          "the page was updated in place, not reloaded",
        );
        const names = await page.$$eval(
          "tr[data-trace-id] .name",
          (cells) => cells.map((cell) => cell.textContent),
        );
        assert.ok(
          names.includes("call-message") && names.includes("call-post-message"),
          String(names),
        );
        const times = await page.$$eval(
          "tr[data-trace-id] time",
          (cells) => cells.map((cell) => Number((cell as HTMLElement).dataset.ms)),
        );
        assert.deepEqual(times, times.toSorted((a, b) => b - a), "newest first");
        await page.close();
      });

      let kafkaTrace = "";
      await t.step(
        "a Kafka trace's waterfall has the flow's ten hops, selects and collapses",
        async () => {
          const page = await open("/?name=process+Purchase2");
          const href = await until(page, "a complete Kafka trace", () => {
            const row = [...document.querySelectorAll("tr[data-trace-id]")].find((tr) =>
              tr.querySelector(".c-num")?.textContent === "10"
            );
            return row?.querySelector("a.row-link")?.getAttribute("href");
          });
          await Promise.all([page.waitForNavigation(), page.click(`a.row-link[href="${href}"]`)]);
          kafkaTrace = href!.split("/").at(-1)!;
          const rows = await page.$$eval(".wf-row", (rows) =>
            rows.map((row) => ({
              level: row.getAttribute("aria-level"),
              text: `${row.querySelector(".svc-name")?.textContent} ${
                row.querySelector(".name")?.textContent
              }`,
            })));
          assert.deepEqual(rows.map((row) => row.text), [
            "executor call-post-message",
            "executor POST",
            "app1 POST /Message/Post-Message",
            "app1 send Purchase",
            "app2 process Purchase",
            "app2 POST",
            "app3 POST /Message/Post-Message",
            "app3 send Purchase2",
            "app4 process Purchase2",
            "app4 SET",
          ]);
          assert.deepEqual(rows.map((row) => row.level), [
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
            "10",
          ]);
          const summary = await page.$$eval(
            ".sum",
            (cells) =>
              Object.fromEntries(cells.map((cell) => [
                cell.querySelector(".k")!.textContent,
                cell.querySelector(".v")!.textContent,
              ])),
          );
          assert.match(summary["Total"]!, /\d ms|µs|s$/);
          assert.notEqual(summary["Kafka send"], "—");
          assert.notEqual(summary["Redis"], "—");
          assert.equal(summary["PostgreSQL"], "—", "the Kafka path does not touch PostgreSQL");
          const ticks = await page.$$eval(".wf-axis .tick", (ticks) => ticks.length);
          assert.ok(ticks >= 3, `${ticks} ticks on the time axis`);

          // Select the consumer of Purchase2: its details open, with its attributes and resource.
          const consumer = await page.$$eval(
            ".wf-row",
            (rows) =>
              rows.find((row) => row.querySelector(".name")?.textContent === "process Purchase2")!
                .getAttribute("data-span"),
          );
          await page.click(`.wf-row[data-span="${consumer}"] .wf-track`);
          await until(
            page,
            "the span's details",
            () => !document.querySelector(".wf-detail:not([hidden])")?.hasAttribute("hidden"),
          );
          const detail = await page.$eval(`#detail-${consumer}`, (el) => ({
            hidden: (el as HTMLElement).hidden,
            text: el.textContent ?? "",
          }));
          assert.equal(detail.hidden, false);
          assert.match(detail.text, /messaging\.consumer\.group\.name/);
          assert.match(detail.text, /service\.name/);
          assert.ok(page.url().includes(`span=${consumer}`), "the selection is in the URL");

          // Collapse the root: only the root stays visible; expand all brings everything back.
          await page.click(".wf-row[aria-level='1'] .twist");
          assert.equal(
            await page.$$eval(".wf-row:not([hidden])", (rows) => rows.length),
            1,
          );
          assert.equal(
            await page.$eval(".wf-row[aria-level='1']", (row) => row.getAttribute("aria-expanded")),
            "false",
          );
          await page.click("[data-wf=expand]");
          assert.equal(
            await page.$$eval(".wf-row:not([hidden])", (rows) => rows.length),
            10,
          );
          // Keyboard: down moves focus to the next row.
          await page.focus(".wf-row[aria-level='1']");
          await page.keyboard.press("ArrowDown");
          assert.equal(
            await page.evaluate(() => document.activeElement?.getAttribute("aria-level")),
            "2",
          );
          // The trace's log records, in time order, each linking to its span.
          const logs = await page.$$eval(
            ".trace-logs tbody tr",
            (rows) =>
              rows.map((row) => Number((row.querySelector("time") as HTMLElement).dataset.ms)),
          );
          assert.ok(logs.length >= 4, `${logs.length} log records`);
          assert.deepEqual(
            logs,
            logs.toSorted((a, b) => a - b),
          );
          await page.close();
        },
      );

      await t.step("a log line leads to its trace and span", async () => {
        const page = await open("/logs?q=message+cached");
        const href = await until(
          page,
          "a 'message cached' record",
          () => document.querySelector("tbody tr .c-trace a")?.getAttribute("href"),
        );
        await Promise.all([page.waitForNavigation(), page.click(`.c-trace a[href="${href}"]`)]);
        const url = new URL(page.url());
        const spanId = url.searchParams.get("span")!;
        assert.match(url.pathname, /^\/traces\/[0-9a-f]{32}$/);
        await until(
          page,
          "the selected span",
          () => document.querySelector(".wf-row.sel") !== null,
        );
        assert.equal(
          await page.$eval(".wf-row.sel", (row) => row.getAttribute("data-span")),
          spanId,
        );
        assert.equal(
          await page.$eval(".wf-row.sel .name", (el) => el.textContent),
          "process Purchase2",
        );
        assert.equal(
          await page.$eval(`#detail-${spanId}`, (el) => (el as HTMLElement).hidden),
          false,
        );
        await page.close();
      });

      await t.step("a function invoked from the Functions page leads to its trace", async () => {
        const page = await open("/functions");
        const route = `[data-service="app1"] tr[data-route="POST /Message"]`;
        await page.click(`${route} summary`);
        await page.$eval(
          `${route} textarea`,
          (el) => (el as HTMLTextAreaElement).value = '{"content": "from the browser test"}',
        );
        await page.click(`${route} button[type=submit]`);
        const result = await until(page, "the invocation's answer", () => {
          const output = document.querySelector(
            `[data-service="app1"] tr[data-route="POST /Message"] output`,
          );
          return output?.querySelector("a.trace-link") ? output.textContent : undefined;
        });
        assert.match(result!, /^201 in /);
        await Promise.all([page.waitForNavigation(), page.click(`${route} a.trace-link`)]);
        await until(
          page,
          "app3's INSERT in the invoked trace",
          () =>
            [...document.querySelectorAll(".wf-row .name")].some((el) =>
              el.textContent === "INSERT messages"
            ),
          20_000,
        );
        const first = await page.$eval(".wf-row", (row) => row.querySelector(".name")?.textContent);
        assert.equal(first, "POST /Message");

        await page.goto(`${base}/functions`);
        const cron = `[data-service="executor"] tr[data-cron="call-message"]`;
        // The executor ticks every second here: a run-now that meets a scheduled run gets a 409
        // ("try again when it ends"), said in the page; a user clicks again, and so does this.
        for (let attempt = 1;; attempt++) {
          await page.click(`${cron} button[type=submit]`);
          const said = await until(page, "the run's answer", () => {
            const output = document.querySelector(
              `[data-service="executor"] tr[data-cron="call-message"] output`,
            );
            return output?.querySelector("a.trace-link")
              ? "started"
              : /^409 /.test(output?.textContent ?? "")
              ? "busy"
              : undefined;
          });
          if (said === "started") break;
          assert.ok(attempt < 10, "run now kept meeting a scheduled run");
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        await Promise.all([page.waitForNavigation(), page.click(`${cron} a.trace-link`)]);
        await until(
          page,
          "the run's root span",
          () => document.querySelector(".wf-row .name")?.textContent === "call-message",
          20_000,
        );
        await page.close();
      });

      await t.step("filters narrow the list and live in the URL", async () => {
        const page = await open("/");
        await until(page, "rows", () => document.querySelectorAll("tr[data-trace-id]").length > 0);
        await Promise.all([page.waitForNavigation(), page.select("select[name=service]", "app4")]);
        assert.equal(new URL(page.url()).searchParams.get("service"), "app4");
        const services = await page.$$eval(
          "tr[data-trace-id] .c-svcs",
          (cells) => cells.map((cell) => cell.textContent ?? ""),
        );
        assert.ok(services.length > 0 && services.every((text) => text.includes("app4")));
        await Promise.all([page.waitForNavigation(), page.click("input[name=error]")]);
        assert.equal(new URL(page.url()).searchParams.get("error"), "1");
        assert.match(
          await page.$eval("main", (el) => el.textContent ?? ""),
          /No trace matches these filters/,
        );
        await page.type("input[name=attr]", `messaging.destination.name:Purchase2`);
        await Promise.all([page.waitForNavigation(), page.click("input[name=error]")]);
        const url = new URL(page.url());
        assert.equal(url.searchParams.get("attr"), "messaging.destination.name:Purchase2");
        assert.equal(url.searchParams.has("error"), false);
        assert.ok(await page.$$eval("tr[data-trace-id]", (rows) => rows.length) > 0);
        await page.close();
      });

      await t.step("the graph, metrics and functions pages show the flow", async () => {
        const graph = await open("/graph");
        await until(graph, "the whole graph", () => document.querySelectorAll(".node").length >= 9);
        const edges = await graph.$$eval(
          "g.edge",
          (groups) => groups.map((g) => g.getAttribute("data-edge")),
        );
        for (
          const edge of ["executor->app1", "app1->Purchase", "Purchase2->app4", "app3->postgresql"]
        ) {
          assert.ok(edges.includes(edge), edge);
        }
        await graph.close();
        const metrics = await open("/metrics");
        await until(
          metrics,
          "function rows",
          () => document.querySelectorAll("tr[data-function]").length >= 6,
        );
        await metrics.close();
      });

      await t.step("at 800 px every page fits without sideways scrolling", async () => {
        for (const path of ["/", `/traces/${kafkaTrace}`, "/logs", "/metrics", "/functions"]) {
          const page = await open(path, 800);
          await page.waitForSelector("main");
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(overflow <= 800, `${path} is ${overflow} px wide at 800`);
          await page.close();
        }
      });

      assert.deepEqual(errors, [], "no script errors on any page");
    } finally {
      await browser?.shutdown();
      await test?.stop();
    }
  },
});
