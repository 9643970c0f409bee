/**
 * What only the host knows, for the console: each service's port, triggers and readiness (the
 * Functions page), and the actions the page can take (invoke an HTTP function with a JSON body,
 * run a cron function now).
 *
 * @example
 * ```ts
 * import { hostActions } from "./host_bridge.ts";
 * const actions = hostActions([]);
 * await actions.invoke("app1", { method: "POST", path: "/Message" }).catch((e) => console.log(e.status)); // 404
 * ```
 * @module
 */
import { serviceRank } from "../service_colors.ts";
import { encodeHex } from "./_codec.ts";
import { ActionError, type ConsoleActions } from "./app.ts";
import type { FunctionInfo } from "./model.ts";

/** A service the host runs, as the console sees it: its triggers, and how to check and run it. */
export interface HostedService extends Pick<FunctionInfo, "service" | "http" | "consumers"> {
  readonly url: string;
  readonly crons: readonly (Omit<FunctionInfo["crons"][number], "nextRun"> & {
    nextRun(): Date | null;
    runNow(): { traceId: string } | undefined;
  })[];
  /** Runs the service's readiness checks. */
  readiness?(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

/** How long an invoked function may take before the console gives up on it. */
const INVOKE_TIMEOUT_MS = 30_000;
/** The largest answer body the console passes on. */
const MAX_ANSWER_CHARS = 256 * 1024;

/**
 * The Functions page's facts about hosted services. Readiness is re-checked in the background
 * when read and older than `refreshMs`, so a page that nobody opens costs no probes.
 */
export function hostFunctions(
  services: readonly HostedService[],
  refreshMs = 2_000,
): () => FunctionInfo[] {
  const readiness = new Map<string, { ready: boolean; checks: Record<string, string> }>();
  let checkedAt = 0;
  let checking = false;
  const refresh = () => {
    if (checking || Date.now() - checkedAt < refreshMs) return;
    checking = true;
    Promise.all(services.map(async (service) => {
      if (!service.readiness) return;
      try {
        readiness.set(service.service, await service.readiness());
      } catch {
        readiness.set(service.service, { ready: false, checks: {} });
      }
    })).finally(() => {
      checking = false;
      checkedAt = Date.now();
    });
  };
  const ranked = (a: HostedService, b: HostedService) =>
    serviceRank(a.service) - serviceRank(b.service);
  return () => {
    refresh();
    return services.toSorted(ranked).map((service) => {
      const state = readiness.get(service.service);
      const port = Number(new URL(service.url).port);
      return {
        service: service.service,
        source: "host",
        url: service.url,
        ...(port ? { port } : {}),
        ...(state ? { ready: state.ready, checks: state.checks } : {}),
        http: service.http,
        consumers: service.consumers,
        crons: service.crons.map((cron) => {
          const next = cron.nextRun();
          return {
            name: cron.name,
            schedule: cron.schedule,
            ...(next ? { nextRun: next.getTime() } : {}),
          };
        }),
      };
    });
  };
}

function find(services: readonly HostedService[], name: string): HostedService {
  const service = services.find((s) => s.service === name);
  if (!service) {
    throw new ActionError(404, `this host runs no service "${name}"`);
  }
  return service;
}

/** The actions, over the hosted services. */
export function hostActions(services: readonly HostedService[]): ConsoleActions {
  return {
    async invoke(name, request) {
      const service = find(services, name);
      const method = request.method.toUpperCase();
      // A fresh trace the call's SERVER span joins: the console adds no span (and no graph node).
      const traceId = encodeHex(crypto.getRandomValues(new Uint8Array(16)));
      const parent = encodeHex(crypto.getRandomValues(new Uint8Array(8)));
      const hasBody = request.body !== undefined && method !== "GET" && method !== "HEAD";
      const url = new URL(request.path, service.url);
      // "/\\host" and the like resolve to another origin: the console calls its own services only.
      if (url.origin !== new URL(service.url).origin) {
        throw new ActionError(400, `"path" must stay on ${name}: ${JSON.stringify(request.path)}`);
      }
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            traceparent: `00-${traceId}-${parent}-01`,
            ...(hasBody ? { "content-type": "application/json" } : {}),
          },
          body: hasBody ? JSON.stringify(request.body) : undefined,
          signal: AbortSignal.timeout(INVOKE_TIMEOUT_MS),
        });
      } catch (error) {
        throw new ActionError(502, `${name} did not answer: ${(error as Error).message}`);
      }
      const text = await response.text();
      const durationMs = performance.now() - started;
      let body: unknown = text.length > MAX_ANSWER_CHARS
        ? `${text.slice(0, MAX_ANSWER_CHARS)}… (${text.length} characters)`
        : text;
      if (
        response.headers.get("content-type")?.includes("json") && text.length <= MAX_ANSWER_CHARS
      ) {
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON after all: the text is the answer.
        }
      }
      return { status: response.status, body, durationMs, traceId };
    },
    runCron(name, cronName) {
      const service = find(services, name);
      const cron = service.crons.find((c) => c.name === cronName);
      if (!cron) {
        return Promise.reject(new ActionError(404, `${name} has no cron function "${cronName}"`));
      }
      const started = cron.runNow();
      if (!started) {
        return Promise.reject(
          new ActionError(409, `${cronName} is running; try again when it ends`),
        );
      }
      return Promise.resolve(started);
    },
  };
}
