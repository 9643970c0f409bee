/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * The Functions page's fault-flags panel in real headless Chromium: the flags are listed with the
 * variant in force, pressing a variant switches the flag (the file and the API agree), and an
 * invalid file is reported on the page while the last good flags stay in force.
 */
import assert from "node:assert/strict";
import { ConsoleStore, createConsoleApp } from "../runtime/console/mod.ts";
import { flagsPanel } from "../runtime/console/pages/flags.tsx";
import { mountPages } from "../runtime/console/pages/mod.ts";
import { FlagSource } from "../runtime/flags/mod.ts";
import { testWhen } from "../runtime/_test_needs.ts";
import { browserMissing, launchBrowser, openPage } from "./_browser.ts";

testWhen(browserMissing(), {
  name: "Functions page: the fault-flags panel lists the flags and switches one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flags-browser-" });
    const file = `${dir}/flags.json`;
    await Deno.copyFile(new URL("../flags.json", import.meta.url), file);
    const source = await FlagSource.open(file, { log: { info() {}, warn() {}, error() {} } });
    const store = new ConsoleStore();
    const app = createConsoleApp({
      reader: store,
      sink: store,
      loopback: true,
      flags: source,
      pages: mountPages({ flagsPanel: flagsPanel(source) }),
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    const browser = await launchBrowser();
    try {
      const { page, errors } = await openPage(browser, { width: 1280, height: 900 });
      await page.goto(`http://localhost:${server.addr.port}/functions`, { waitUntil: "load" });
      const names = await page.$$eval(
        "li[data-flag]",
        (items) => items.map((item) => (item as HTMLElement).dataset.flag),
      );
      // Every flag of the file, in its order (runtime/flags/flags_test.ts checks they are the
      // contract's).
      assert.deepEqual(names, source.flags().map((flag) => flag.name));
      assert.ok(names.includes("app3StoreFailure"));
      const pressed = () =>
        page.$eval(
          'li[data-flag="app3StoreFailure"] button[aria-pressed="true"]',
          (button) => (button as HTMLButtonElement).value,
        );
      assert.equal(await pressed(), "off");

      await page.click('li[data-flag="app3StoreFailure"] button[value="50%"]');
      await page.waitForFunction(() =>
        document.querySelector('li[data-flag="app3StoreFailure"] output')?.textContent ===
          "now 50%"
      );
      assert.equal(await pressed(), "50%");
      assert.equal(
        await page.$eval('li[data-flag="app3StoreFailure"] .flag-value', (el) => el.textContent),
        "0.5",
      );
      assert.match(await Deno.readTextFile(file), /"defaultVariant": "50%"/);
      assert.equal(await page.$eval(".flags-panel h2 .badge", (el) => el.textContent), "1 on");
      assert.equal(source.flags().find((f) => f.name === "app3StoreFailure")?.value, 0.5);
      const shot = Deno.env.get("FLAGS_SCREENSHOT");
      if (shot) await page.screenshot({ path: shot, fullPage: true });

      // A reload renders what the server holds: the switch survived.
      await page.reload({ waitUntil: "load" });
      assert.equal(await pressed(), "50%");
      assert.match(
        await page.$eval(".flags-panel h2", (el) => el.textContent ?? ""),
        /1 on/,
      );

      await Deno.writeTextFile(file, "{ broken");
      await new Promise((resolve) => setTimeout(resolve, 600));
      await page.reload({ waitUntil: "load" });
      assert.match(
        await page.$eval(".flag-error", (el) => el.textContent ?? ""),
        /not valid JSON.*last good flags stay in force/,
      );
      await page.click('li[data-flag="app1SlowMs"] button[value="1s"]');
      await page.waitForFunction(() =>
        /409/.test(document.querySelector('li[data-flag="app1SlowMs"] output')?.textContent ?? "")
      );
      // The browser logs the refused PUT itself; nothing else may have gone wrong.
      assert.deepEqual(errors.filter((error) => !/status of 409/.test(error)), []);
    } finally {
      await browser.shutdown();
      await server.shutdown();
      source.close();
    }
  },
});
