/**
 * Every service of the seed's flow, by name.
 * @module
 */
import type { ServiceDefinition, ServiceName } from "../runtime/mod.ts";
import { app1 } from "./app1/mod.ts";
import { app2 } from "./app2/mod.ts";
import { app3 } from "./app3/mod.ts";
import { app4 } from "./app4/mod.ts";
import { executor } from "./executor/mod.ts";

/** The services the host can run. */
export const services: Readonly<Record<ServiceName, ServiceDefinition>> = {
  executor,
  app1,
  app2,
  app3,
  app4,
};
