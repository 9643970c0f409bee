/**
 * Every service of the seed's flow, by name, in start order: what others call starts first, the
 * executor last.
 * @module
 */
import { app1 } from "./app1/mod.ts";
import { app2 } from "./app2/mod.ts";
import { app3 } from "./app3/mod.ts";
import { app4 } from "./app4/mod.ts";
import { executor } from "./executor/mod.ts";

/** The services the host can run. */
export const services = { app4, app3, app2, app1, executor };

/** A service's name (`service.name`, `--service`). */
export type ServiceName = keyof typeof services;
