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
 * import { createConsolePages } from "./mod.ts";
 * import { FixtureReader } from "./_fixture.ts";
 * const pages = createConsolePages(new FixtureReader());
 * const response = await pages.request("/");
 * console.log(response.status, response.headers.get("content-type")); // 200 text/html; charset=UTF-8
 * ```
 * @module
 */
export { createConsolePages, type PagesOptions } from "./_app.tsx";
