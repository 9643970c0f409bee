/**
 * The console: bounded buffers of traces, logs and metrics ({@linkcode ConsoleStore}), the JSON
 * API, live events and OTLP/HTTP ingest over them ({@linkcode createConsoleApp}), and the seam
 * where the pages mount ({@linkcode PageMount}).
 *
 * @example
 * ```ts
 * import { ConsoleStore, createConsoleApp } from "./mod.ts";
 * const store = new ConsoleStore();
 * const app = createConsoleApp({
 *   reader: store,
 *   sink: store,
 *   loopback: true,
 *   pages: (app, reader) => app.get("/", (c) => c.text(`${reader.traces().length} traces`)),
 * });
 * console.log(await (await app.request("http://localhost/")).text()); // "0 traces"
 * ```
 * @module
 */
export {
  ActionError,
  type ConsoleActions,
  type ConsoleAppOptions,
  createConsoleApp,
  type PageMount,
} from "./app.ts";
export { type ConsoleSink, otlpRoutes } from "./ingest.ts";
export { ConsoleStore, type ConsoleStoreOptions, type FunctionsSource } from "./store.ts";
export type * from "./model.ts";
