/**
 * The console's pages: server-rendered HTML over a {@linkcode ConsoleReader}, with their own
 * stylesheet and a little script that follows the console's server-sent events (`/api/events`)
 * and swaps each page's live region in place. Mount the returned app at the console's root,
 * next to the JSON API.
 *
 * Every page answers a request carrying `x-console-fragment: main` with its live region alone
 * (followed by a `<template id="stats-next">` with fresh buffer stats), which is how the script
 * refreshes it.
 *
 * @example
 * ```ts
 * import { createConsoleApp, ConsoleStore } from "../mod.ts";
 * import { mountPages } from "./mod.ts";
 * const store = new ConsoleStore();
 * const app = createConsoleApp({ reader: store, sink: store, loopback: true, pages: mountPages() });
 * console.log((await app.request("http://localhost/")).status); // 200
 * ```
 *
 * @example
 * ```ts
 * import { createConsolePages } from "./mod.ts";
 * import { FixtureReader } from "./_fixture.ts";
 * const pages = createConsolePages(new FixtureReader());
 * const response = await pages.request("/");
 * console.log(response.status, response.headers.get("content-type")); // 200 text/html; charset=UTF-8
 * ```
 * @module
 */
import type { PageMount } from "../app.ts";
import { createConsolePages, type PagesOptions } from "./_app.tsx";

export { createConsolePages, type PagesOptions };

/** The pages as the console app mounts them (`createConsoleApp({ pages: mountPages() })`). */
export function mountPages(options: PagesOptions = {}): PageMount {
  return (app, reader) => {
    app.route("/", createConsolePages(reader, options));
  };
}
