/**
 * Real headless Chromium for the console's browser tests and screenshots: the system browser
 * (Debian's `chromium`) found on PATH, driven with puppeteer-core, in a fresh profile each time.
 *
 * @example
 * ```ts
 * import { findChromium, launchBrowser } from "./_browser.ts";
 * if (findChromium()) {
 *   const browser = await launchBrowser();
 *   const page = await browser.newPage();
 *   await page.goto("about:blank");
 *   await browser.close();
 * }
 * ```
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The path of a Chromium on PATH (or `CHROMIUM_PATH`), if there is one. */
export function findChromium(): string | undefined {
  const explicit = Deno.env.get("CHROMIUM_PATH");
  if (explicit) return explicit;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    for (const name of NAMES) {
      const path = `${dir}/${name}`;
      try {
        const info = Deno.statSync(path);
        if (info.isFile && (info.mode ?? 0o111) & 0o111) return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** Why browser tests cannot run here, if they cannot. */
export function browserMissing(): string | undefined {
  return findChromium()
    ? undefined
    : "chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)";
}

/** A launched browser and the profile folder it owns. */
export interface LaunchedBrowser extends Browser {
  /** Closes the browser and removes its profile. */
  shutdown(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile. */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(browserMissing());
  const profile = await Deno.makeTempDir({ prefix: "console-chromium-" });
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    pipe: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      "--hide-scrollbars",
      "--font-render-hinting=none",
      `--user-data-dir=${profile}`,
    ],
  }) as LaunchedBrowser;
  browser.shutdown = async () => {
    await browser.close().catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  return browser;
}

/** Opens a page of `width` × `height` CSS pixels that fails the test on a script error. */
export async function openPage(
  browser: Browser,
  options: { width?: number; height?: number; scale?: number; dark?: boolean } = {},
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({
    width: options.width ?? 1280,
    height: options.height ?? 800,
    deviceScaleFactor: options.scale ?? 1,
  });
  await page.emulateMediaFeatures([{
    name: "prefers-color-scheme",
    value: options.dark ? "dark" : "light",
  }]);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  return { page, errors };
}
