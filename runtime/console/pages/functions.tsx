/**
 * The Functions page: every service with its port, triggers (HTTP routes, topics and groups,
 * crons with their next run) and readiness; an HTTP function can be invoked with a JSON body and a
 * cron function run now, each answer linking to the trace it started.
 * @module
 */
import { serviceRank } from "../../service_colors.ts";
import type { Child } from "hono/jsx";
import type { FunctionInfo, FunctionsOverview } from "../model.ts";
import { Empty } from "./_layout.tsx";
import { ServiceChip, Time } from "./_parts.tsx";
import { formatRelative } from "./_format.ts";

/** A body to start from, for a method that takes one. */
const SAMPLE_BODY = '{\n  "content": "hello from the console"\n}';
const TAKES_BODY = new Set(["POST", "PUT", "PATCH"]);

/** The page body; `flags` is where the fault-flags panel goes when there is one. */
export function FunctionsView(props: { overview: FunctionsOverview; now: number; flags?: Child }) {
  const functions = props.overview.functions.toSorted(byFlow);
  return (
    <div class="fn-page">
      <div class="fn-list">
        {functions.length === 0
          ? (
            <Empty title="No services yet.">
              Services run by this host are listed as they start; services that only send OTLP
              appear with their first span or log record.
            </Empty>
          )
          : functions.map((fn) => <ServiceCard fn={fn} now={props.now} />)}
      </div>
      <aside class="flags-slot" id="flags" aria-label="fault flags">
        {props.flags ?? (
          <div class="card muted small">
            <h2>Fault flags</h2>
            <p>
              No flag provider is mounted in this console. When one is (a host mounts the flags of
              its <code>FLAGS_FILE</code>), its flags can be switched here.
            </p>
          </div>
        )}
      </aside>
    </div>
  );
}

/** The host's services in their declared order (callers first); others after them, by name. */
function byFlow(a: FunctionInfo, b: FunctionInfo): number {
  const rank = (fn: FunctionInfo) => {
    const index = serviceRank(fn.service);
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  };
  return Number(a.source !== "host") - Number(b.source !== "host") || rank(a) - rank(b) ||
    a.service.localeCompare(b.service);
}

function Readiness(props: { fn: FunctionInfo }) {
  const { fn } = props;
  if (fn.source === "otlp") return <span class="badge">seen over OTLP</span>;
  if (fn.ready === undefined) return <span class="badge">readiness unknown</span>;
  return fn.ready ? <span class="badge ok">ready</span> : <span class="badge bad">not ready</span>;
}

function ServiceCard(props: { fn: FunctionInfo; now: number }) {
  const { fn } = props;
  const invocable = fn.source === "host" && fn.url !== undefined;
  const checks = Object.entries(fn.checks ?? {});
  return (
    <section class="card fn" data-service={fn.service} aria-labelledby={`svc-${fn.service}`}>
      <header class="fn-head">
        <h2 id={`svc-${fn.service}`}>
          <ServiceChip service={fn.service} />
        </h2>
        <Readiness fn={fn} />
        {fn.url
          ? (
            <a class="mono small" href={`${fn.url}/readyz`} title="readiness endpoint">
              {fn.port !== undefined ? `:${fn.port}` : fn.url}
            </a>
          )
          : null}
        {checks.map(([name, state]) => (
          <span class={state === "up" ? "check up" : "check down"} title={`${name}: ${state}`}>
            {name} {state === "up" ? "up" : state}
          </span>
        ))}
        <span class="spacer"></span>
        {fn.lastSeen !== undefined
          ? (
            <span class="muted small">
              last seen{" "}
              <span data-relative={String(fn.lastSeen)}>
                {formatRelative(fn.lastSeen, props.now)}
              </span>
            </span>
          )
          : null}
      </header>
      <table class="triggers">
        <tbody>
          {fn.http.map((route) => (
            <tr data-route={`${route.method} ${route.path}`}>
              <th scope="row" class="trig">http</th>
              <td>
                <span class={`method m-${route.method.toLowerCase()}`}>{route.method}</span>{" "}
                <span class="mono">{route.path}</span>
              </td>
              <td class="act">
                {invocable
                  ? (
                    <details class="invoke">
                      <summary>Invoke</summary>
                      <form
                        class="invoke-form"
                        data-service={fn.service}
                        data-method={route.method}
                      >
                        <label>
                          <span>Path</span>
                          <input
                            name="path"
                            value={route.path}
                            class="mono"
                            aria-label={`path for ${route.method} ${route.path}`}
                            required
                          />
                        </label>
                        {TAKES_BODY.has(route.method)
                          ? (
                            <label>
                              <span>JSON body</span>
                              <textarea
                                name="body"
                                rows={3}
                                class="mono"
                                spellcheck={false}
                                aria-label={`JSON body for ${route.method} ${route.path}`}
                              >
                                {SAMPLE_BODY}
                              </textarea>
                            </label>
                          )
                          : null}
                        <div class="invoke-bar">
                          <button type="submit">Send {route.method}</button>
                          <output class="result" aria-live="polite"></output>
                        </div>
                      </form>
                    </details>
                  )
                  : null}
              </td>
            </tr>
          ))}
          {fn.consumers.map((consumer) => (
            <tr data-consumer={consumer.topic}>
              <th scope="row" class="trig">kafka</th>
              <td>
                <span class="mono">{consumer.name}</span> <span class="muted">on</span>{" "}
                <a
                  href={`/?attr=${
                    encodeURIComponent(`messaging.destination.name:${consumer.topic}`)
                  }`}
                >
                  {consumer.topic}
                </a>{" "}
                <span class="muted">group {consumer.group}</span>
              </td>
              <td class="act"></td>
            </tr>
          ))}
          {fn.crons.map((cron) => (
            <tr data-cron={cron.name}>
              <th scope="row" class="trig">cron</th>
              <td>
                <a
                  href={`/?service=${encodeURIComponent(fn.service)}&name=${
                    encodeURIComponent(cron.name)
                  }`}
                >
                  <span class="mono">{cron.name}</span>
                </a>{" "}
                <code class="muted">{cron.schedule}</code>
                {cron.nextRun !== undefined
                  ? (
                    <span class="muted small next-run">
                      next <Time ms={cron.nextRun} /> (<span data-relative={String(cron.nextRun)}>
                        {formatRelative(cron.nextRun, props.now)}
                      </span>)
                    </span>
                  )
                  : null}
              </td>
              <td class="act">
                {fn.source === "host"
                  ? (
                    <form class="run-form" data-service={fn.service} data-cron={cron.name}>
                      <button type="submit">Run now</button>
                      <output class="result" aria-live="polite"></output>
                    </form>
                  )
                  : null}
              </td>
            </tr>
          ))}
          {fn.http.length + fn.consumers.length + fn.crons.length === 0
            ? (
              <tr>
                <td colspan={3} class="muted small">no triggers known (seen over OTLP only)</td>
              </tr>
            )
            : null}
        </tbody>
      </table>
    </section>
  );
}
