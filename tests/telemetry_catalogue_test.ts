/**
 * docs/telemetry.md against what a real host emits, both ways. The host runs the seed's flow on
 * the backends the environment names (the real servers in .ci/run, else the embedded defaults)
 * with app3 behind an HTTP fault proxy, and the test brings about what the catalogue's
 * conditions describe: app3 answering 500 (a 502 relayed by app1, a failed cron run, a message
 * retried then dead-lettered), app3 unreachable (503s, outage retries, exceptions), fault flags
 * on and off, an OTLP outage, a query string, an unknown method, a stop. Then every span, metric family and label,
 * and log record it emitted must be in the catalogue, and everything the catalogue lists must
 * have been emitted when its condition held, and not when it did not. Conditions this run cannot
 * bring about name the test that covers them; log records under them must still be in the code.
 */
import assert from "node:assert/strict";
import project from "../deno.json" with { type: "json" };
import { services } from "../functions/mod.ts";
import { SCOPE } from "../runtime/telemetry/resource.ts";
import type { ReceivedSpan } from "../testing/otlp_receiver.ts";
import { freePort } from "../testing/port.ts";
import { setFlagInFile } from "../testing/flag_file.ts";
import { waitFor } from "../testing/wait.ts";
import { type Catalogue, readCatalogue, type SpanType } from "./_catalogue.ts";
import { backendSuites, startTestHost, type TestHost } from "./_harness.ts";

/** app3 behind a proxy that passes requests on, answers 500, or refuses connections. */
class FaultProxy {
  /** Where requests go while passing. */
  target = "";
  mode: "pass" | "fail" = "pass";
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens (again, on the same port after the first time). */
  start(): Promise<void> {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: this.#port, onListen: () => {} },
      async (request) => {
        if (this.mode === "fail") {
          await request.body?.cancel();
          return Response.json({ error: "injected failure" }, { status: 500 });
        }
        const url = new URL(request.url);
        return await fetch(`${this.target}${url.pathname}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          redirect: "manual",
        });
      },
    );
    this.#server = server;
    this.#port = server.addr.port;
    return Promise.resolve();
  }

  /** Closes the port: connections are refused until {@linkcode start} again. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}

/**
 * Whether a condition held during the run. One that did not says why, and for spans and metrics
 * names the test that sees it hold; log records under it are checked against the code instead.
 * Unknown: it may or may not have held (nothing is checked either way).
 */
type Status =
  | { readonly holds: true }
  | { readonly holds: false; readonly because: string; readonly coveredBy?: string }
  | { readonly holds: "unknown" };
const HELD: Status = { holds: true };
const UNKNOWN: Status = { holds: "unknown" };

const KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];

/** The catalogue's span type of a received span, by what the span says about itself. */
function spanType(span: ReceivedSpan): string | undefined {
  const a = span.attributes;
  const kind = KINDS[span.kind];
  if (kind === "SERVER" && a["faas.trigger"] === "http") return "span.http.server";
  if (kind === "SERVER" && a["faas.trigger"] === "timer") return "span.faas.timer.server";
  if (kind === "CLIENT" && a["db.system.name"] === "postgresql") return "span.db.postgresql.client";
  if (kind === "CLIENT" && a["db.system.name"] === "redis") return "span.db.redis.client";
  if (kind === "CLIENT" && a["http.request.method"] !== undefined) return "span.http.client";
  if (kind === "PRODUCER" && a["messaging.system"] === "kafka") {
    return "span.messaging.kafka.send.producer";
  }
  if (kind === "CONSUMER" && a["messaging.system"] === "kafka") {
    return "span.messaging.kafka.process.consumer";
  }
  return undefined;
}

/** Whether `name` is one of the type's name templates filled in with the span's attributes. */
function named(type: SpanType, span: ReceivedSpan): boolean {
  return type.names.some((template) => {
    let complete = true;
    const filled = template.replace(/\{([a-z_.]+)\}/g, (_, key: string) => {
      const value = span.attributes[key];
      if (value === undefined) complete = false;
      return String(value);
    });
    return complete && filled === span.name;
  });
}

interface Family {
  type: string;
  labels: Set<string>;
  services: Set<string>;
}

/** Metric families with their label names and the services whose scrape had them. */
function families(scrapes: Record<string, string>): Map<string, Family> {
  const found = new Map<string, Family>();
  for (const [service, text] of Object.entries(scrapes)) {
    const sampleFamily = new Map<string, string>();
    for (const line of text.split("\n")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) {
        const [, name, kind] = type;
        if (!found.has(name)) {
          found.set(name, { type: kind, labels: new Set(), services: new Set() });
        }
        found.get(name)!.services.add(service);
        for (const suffix of kind === "histogram" ? ["_bucket", "_sum", "_count"] : [""]) {
          sampleFamily.set(name + suffix, name);
        }
        continue;
      }
      const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(line);
      if (!sample) continue;
      const family = found.get(sampleFamily.get(sample[1]) ?? "");
      assert.ok(family, `${service}: a sample of no declared family: ${line}`);
      for (const match of (sample[2] ?? "").matchAll(/([a-zA-Z_]\w*)="/g)) {
        if (match[1] !== "le") family.labels.add(match[1]);
      }
    }
  }
  return found;
}

/** Checks a catalogued entry against the run: present when its condition held, absent if not. */
function checkPresence(
  what: string,
  when: string | undefined,
  seen: boolean,
  status: (condition: string) => Status,
  problems: string[],
): void {
  const held = when === undefined ? HELD : status(when);
  if (held.holds === true && !seen) problems.push(`${what} was never emitted`);
  if (held.holds === false && seen) {
    problems.push(`${what} was emitted although ${when} did not hold (${held.because})`);
  }
}

/** Log records under conditions the run did not bring about must still be in the code. */
async function checkInSource(
  catalogue: Catalogue,
  status: (condition: string) => Status,
  problems: string[],
): Promise<void> {
  const sources: string[] = [];
  for (const dir of ["runtime", "functions"]) {
    for await (const file of walk(new URL(`../${dir}/`, import.meta.url))) {
      if (file.endsWith(".ts") && !file.endsWith("_test.ts")) {
        sources.push(await Deno.readTextFile(file));
      }
    }
  }
  const code = sources.join("\n");
  for (const record of catalogue.logs) {
    if (record.when === undefined || status(record.when).holds === true) continue;
    const fixed = record.message.split("…")[0];
    // Each call with the message, and the lines just before it, where a fields object may be built.
    const calls: string[] = [];
    for (let at = code.indexOf(fixed); at >= 0; at = code.indexOf(fixed, at + 1)) {
      calls.push(code.slice(Math.max(0, at - 300), code.indexOf(");", at)));
    }
    if (calls.length === 0) {
      problems.push(`log record "${record.message}": no code logs it`);
      continue;
    }
    const missing = record.fields.filter((field) =>
      !calls.some((call) => new RegExp(`\\b${field.name}\\b`).test(call))
    );
    for (const field of missing) {
      problems.push(`log record "${record.message}": the code does not set ${field.name}`);
    }
  }
}

async function* walk(dir: URL): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else yield url.pathname;
  }
}

/** A test named in a `covered` reason must exist. */
async function assertCovered(reason: string): Promise<void> {
  const [file, name] = reason.split(" › ");
  const text = await Deno.readTextFile(new URL(`../${file}`, import.meta.url));
  assert.ok(text.includes(name), `${file} has no test "${name}" (named as covering a condition)`);
}

const suite = backendSuites().filter((s) => !s.ignore).at(-1)!;

Deno.test({
  name: `docs/telemetry.md lists exactly what the host emits [${suite.name}]`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const catalogue = await readCatalogue();
    const env = suite.env;
    const held = (because: string, coveredBy?: string): Status => ({
      holds: false,
      because,
      coveredBy,
    });
    const statuses: Record<string, Status> = {
      failure: HELD,
      "otlp-failure": HELD,
      query: HELD,
      "unknown-method": HELD,
      route: HELD,
      "user-agent": HELD,
      batched: HELD,
      console: HELD,
      stopping: HELD,
      debug: HELD,
      "flag-on": HELD,
      "flag-change": HELD,
      "flag-removed": held("the flags stay in the file"),
      "flag-file-problem": held("the flag file stays valid"),
      "send-failure": held(
        "the broker takes every message here",
        "runtime/messaging/producer_test.ts › a failed send is counted, marks the span and is rethrown",
      ),
      "db-failure": held(
        "PostgreSQL and Redis take every statement here",
        "runtime/db/postgres_test.ts › queries are CLIENT spans with parameterised text",
      ),
      "queue-full": held(
        "the export queue keeps up here",
        "tests/reliability_test.ts › OTLP endpoint silent: the export queue stays bounded",
      ),
      broker: env.KAFKA_BROKERS ? HELD : held("no KAFKA_BROKERS: the embedded bus (CI sets it)"),
      "redis-server": env.REDIS_URL ? HELD : held("no REDIS_URL: the embedded store (CI sets it)"),
      "redis-url": env.REDIS_URL ? HELD : held("no REDIS_URL: the embedded store (CI sets it)"),
      "embedded-postgres": env.DATABASE_URL ? held("DATABASE_URL names a server") : HELD,
      "embedded-kafka": env.KAFKA_BROKERS ? held("KAFKA_BROKERS names a broker") : HELD,
      "embedded-redis": env.REDIS_URL ? held("REDIS_URL names a server") : HELD,
      "fresh-database": env.DATABASE_URL
        ? UNKNOWN // a real database may have the table from an earlier run
        : HELD,
      initdb: UNKNOWN, // depends on the prepared cluster shipped for this PGlite version
      overrun: UNKNOWN, // a cron run can outlast a 1 s tick on a loaded machine
      "broker-trouble": UNKNOWN, // kafkajs may warn about a broker at any time
      "shutdown-trouble": UNKNOWN, // a loaded machine can make a shutdown step slow
      "offsets-unwritable": held(
        "the data folder stays writable",
        "tests/reliability_test.ts › offsets that cannot be written",
      ),
      "console-only": held("the test exports over OTLP"),
      "console-port-taken": held("the console takes a free port"),
      "migration-failure": held("the database is up at start"),
      "sdk-disabled": held("telemetry is on"),
      misconfigured: held("every dependency takes the host's credentials"),
      bug: held("no function has a bug"),
    };
    const status = (condition: string): Status => {
      const found = statuses[condition];
      assert.ok(found, `the test does not know the condition ${condition}`);
      return found;
    };
    assert.deepEqual(
      [...catalogue.conditions.keys()].sort(),
      Object.keys(statuses).sort(),
      "the catalogue's conditions and the ones this test knows",
    );
    for (const value of Object.values(statuses)) {
      if (value.holds === false && value.coveredBy) await assertCovered(value.coveredBy);
    }
    // A span or metric entry under a condition this run cannot bring about needs a test that
    // can (the backend conditions: this test on real servers, which CI runs).
    const backends = new Set(["broker", "redis-server", "redis-url"]);
    const uncovered = [
      ...catalogue.spans.flatMap((type) =>
        [...type.attributes, ...type.events].map((entry) => [`${type.id} ${entry.name}`, entry])
      ),
      ...catalogue.metrics.flatMap((metric) =>
        metric.labels.map((label) => [`${metric.name} ${label.name}`, label])
      ),
    ].filter(([, entry]) => {
      const { when } = entry as { when?: string };
      if (when === undefined || backends.has(when)) return false;
      const s = status(when);
      return s.holds === false && !s.coveredBy;
    }).map(([what]) => what);
    assert.deepEqual(uncovered, [], "entries whose condition no test brings about");
    if (Deno.env.get("CI_REQUIRE_ALL") === "1") {
      assert.ok(env.KAFKA_BROKERS && env.REDIS_URL, "CI runs this against a broker and Redis");
    }

    // app3's port is chosen first, so the proxy knows where to send requests from the start.
    const app3Port = freePort();
    const proxy = new FaultProxy();
    proxy.target = `http://127.0.0.1:${app3Port}`;
    await proxy.start();
    const flagsDir = await Deno.makeTempDir({ prefix: "catalogue-flags-" });
    const flagsFile = `${flagsDir}/flags.json`;
    await Deno.copyFile(new URL("../flags.json", import.meta.url), flagsFile);
    const flip = (flag: string, variant: string) => setFlagInFile(flagsFile, flag, variant);
    const test: TestHost = await startTestHost({
      env: {
        ...env,
        APP3_PORT: String(app3Port),
        APP3_URL: proxy.url,
        KAFKA_MAX_ATTEMPTS: "2",
        LOG_LEVEL: "debug",
        FLAGS_FILE: flagsFile,
      },
    });
    let stopped = false;
    const problems: string[] = [];
    try {
      const logged = (message: string, service?: string) =>
        test.logs.filter((line) => {
          const record = JSON.parse(line);
          return record.message === message &&
            (service === undefined || record.service === service);
        }).length;
      await waitFor(
        "both traces of a tick to reach their ends",
        () => logged("message stored") > 0 && logged("message cached") > 0,
        60_000,
      );
      // The read functions, a query string, an unknown method, a client behind a proxy.
      const id = JSON.parse(
        test.logs.find((line) => line.includes('"message cached"'))!,
      ).message_id;
      for (
        const url of [`${test.url("app3")}/Message/${id}`, `${test.url("app4")}/Message/${id}`]
      ) {
        await (await fetch(url)).body?.cancel();
      }
      await (await fetch(`${test.url("app1")}/Message?sig=secret&page=2`, { method: "PURGE" }))
        .body?.cancel();
      await (await fetch(`${test.url("app1")}/Message`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" },
        body: JSON.stringify({ content: "from behind a proxy" }),
      })).body?.cancel();

      // Fault flags on for a moment: their evaluations show on an HTTP function's, a cron run's
      // and a Kafka-triggered function's spans.
      const flagged = ["app1SlowMs", "executorBurst", "app2ConsumeDelayMs"];
      for (
        const [flag, variant] of [["app1SlowMs", "250ms"], ["executorBurst", "10x"], [
          "app2ConsumeDelayMs",
          "100ms",
        ]]
      ) {
        await flip(flag, variant);
      }
      await waitFor("flag evaluations on the three kinds of invocation", () => {
        const kinds = new Set(
          test.receiver.spans.filter((span) =>
            span.events.some((event) => event.name === "feature_flag.evaluation")
          ).map((span) => span.kind),
        );
        return kinds.has(2) && kinds.has(5) &&
          test.receiver.spans.some((span) =>
            span.attributes["faas.trigger"] === "timer" &&
            span.events.some((event) => event.name === "feature_flag.evaluation")
          );
      }, 30_000);
      for (const flag of flagged) await flip(flag, "off");

      // app3 answers 500: app1 relays 502, the cron run fails, app2 retries then dead-letters.
      proxy.mode = "fail";
      await waitFor(
        "a failed run and a dead letter",
        () => logged("cron run failed") > 0 && logged("message dead-lettered") > 0,
        30_000,
      );
      // app3 cannot be reached: 503 with an exception, outage retries.
      await proxy.stop();
      await waitFor(
        "the outage seen by app1 and app2",
        () =>
          logged("dependency unavailable") > 0 && logged("dependency unavailable; retrying") > 0,
        30_000,
      );
      proxy.mode = "pass";
      await proxy.start();
      const forwarded = logged("message forwarded to app3");
      await waitFor(
        "app2 forwarding again",
        () => logged("message forwarded to app3") > forwarded,
        30_000,
      );

      // The failures' spans are exported before the collector goes away for a moment.
      await waitFor(
        "the exported spans of the outage",
        () =>
          test.receiver.spans.some((span) =>
            span.attributes["error.type"] === "DependencyUnavailableError" && span.kind === 2
          ),
        30_000,
      );
      await waitFor(
        "the exported spans of the outage",
        () =>
          test.receiver.spans.some((span) =>
            span.kind === 3 && span.events.some((event) => event.name === "exception")
          ),
        30_000,
      );
      await test.receiver.stop();
      await waitFor(
        "an export failure",
        () => logged("OTLP export failing; dropping and counting in otel_sdk_exporter_*") >= 2,
        30_000,
      );
      await test.receiver.resume();
      await waitFor("the export recovering", () => logged("OTLP export recovered") >= 2, 30_000);
      await waitFor(
        "the spans of the recovery",
        () => test.receiver.spans.some((span) => span.end > Date.now() - 2000),
        10_000,
      );

      const scrapes: Record<string, string> = {};
      for (const service of Object.keys(services) as (keyof typeof services)[]) {
        scrapes[service] = await (await fetch(`${test.url(service)}/metrics`)).text();
      }
      await test.stop();
      stopped = true;

      // ---------------------------------------------------------------------------- spans
      const spans = test.receiver.spans;
      const byType = new Map<string, ReceivedSpan[]>();
      for (const span of spans) {
        const id = spanType(span);
        const type = catalogue.spans.find((t) => t.id === id);
        if (!type) {
          problems.push(
            `span "${span.name}" (${KINDS[span.kind]}, ${span.service}) is not catalogued`,
          );
          continue;
        }
        byType.set(type.id, [...byType.get(type.id) ?? [], span]);
        if (KINDS[span.kind] !== type.kind) {
          problems.push(`${type.id}: kind ${KINDS[span.kind]}`);
        }
        if (!named(type, span)) {
          problems.push(`${type.id}: name "${span.name}" fits no template`);
        }
        if (!type.services.includes(span.service)) {
          problems.push(`${type.id}: emitted by ${span.service}, not catalogued`);
        }
        for (const key of Object.keys(span.attributes)) {
          if (!type.attributes.some((a) => a.name === key)) {
            problems.push(`${type.id}: attribute ${key} is not catalogued`);
          }
        }
        for (const event of span.events) {
          const listed = type.events.find((e) => e.name === event.name);
          if (!listed) problems.push(`${type.id}: event ${event.name} is not catalogued`);
          for (const key of Object.keys(event.attributes)) {
            if (listed && !listed.attributes.includes(key)) {
              problems.push(`${type.id}: event ${event.name} attribute ${key} is not catalogued`);
            }
          }
        }
        if (type.links !== (span.links.length > 0)) {
          problems.push(`${type.id}: ${span.links.length} links on "${span.name}"`);
        }
        assert.deepEqual(span.scope, {
          name: SCOPE.name,
          version: project.version,
          schemaUrl: SCOPE.schemaUrl,
        });
      }
      for (const type of catalogue.spans) {
        const emitted = byType.get(type.id) ?? [];
        if (emitted.length === 0) problems.push(`${type.id}: no span of this type`);
        for (const attribute of type.attributes) {
          const seen = emitted.some((span) => attribute.name in span.attributes);
          checkPresence(`${type.id} ${attribute.name}`, attribute.when, seen, status, problems);
        }
        for (const event of type.events) {
          const occurrences = emitted.flatMap((span) =>
            span.events.filter((e) => e.name === event.name)
          );
          checkPresence(
            `${type.id} event ${event.name}`,
            event.when,
            occurrences.length > 0,
            status,
            problems,
          );
          for (const key of event.attributes) {
            if (occurrences.length > 0 && !occurrences.some((e) => key in e.attributes)) {
              problems.push(`${type.id} event ${event.name}: ${key} never set`);
            }
          }
        }
      }
      const resourceKeys = new Set(spans.flatMap((span) => Object.keys(span.resource)));
      assert.deepEqual(
        [...resourceKeys].sort(),
        [...catalogue.resource].sort(),
        "resource attributes",
      );

      // -------------------------------------------------------------------------- metrics
      const scraped = families(scrapes);
      for (const [name, family] of scraped) {
        const listed = catalogue.metrics.find((m) => m.name === name);
        if (!listed) {
          problems.push(`metric ${name} is not catalogued`);
          continue;
        }
        if (listed.type !== family.type) {
          problems.push(`${name}: ${family.type}, catalogued ${listed.type}`);
        }
        for (const label of family.labels) {
          if (!listed.labels.some((l) => l.name === label)) {
            problems.push(`${name}: label ${label} is not catalogued`);
          }
        }
        const services = [...family.services];
        if (listed.recordedBy[0] === "one port per process") {
          if (services.length !== 1) problems.push(`${name} is served by ${services.join(", ")}`);
        } else {
          for (const service of services) {
            if (!listed.recordedBy.includes(service)) problems.push(`${name} on ${service}`);
          }
        }
      }
      for (const metric of catalogue.metrics) {
        const family = scraped.get(metric.name);
        if (!family) {
          problems.push(`metric ${metric.name} was never served`);
          continue;
        }
        for (const label of metric.labels) {
          checkPresence(
            `${metric.name} ${label.name}`,
            label.when,
            family.labels.has(label.name),
            status,
            problems,
          );
        }
      }

      // ----------------------------------------------------------------------------- logs
      const base = new Set(catalogue.logFields.map((field) => field.name));
      const records = test.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      const seen = new Set<string>();
      for (const record of records) {
        const listed = catalogue.logs.find((r) => r.pattern.test(String(record.message)));
        if (!listed) {
          problems.push(`log record "${record.message}" is not catalogued`);
          continue;
        }
        seen.add(listed.message);
        if (!listed.level.split(", ").includes(String(record.level))) {
          problems.push(`"${listed.message}": level ${record.level}, catalogued ${listed.level}`);
        }
        if (!listed.loggers.includes(String(record.service))) {
          problems.push(`"${listed.message}": logged by ${record.service}, not catalogued`);
        }
        for (const key of Object.keys(record)) {
          if (!base.has(key) && !listed.fields.some((f) => f.name === key)) {
            problems.push(`"${listed.message}": field ${key} is not catalogued`);
          }
        }
        for (const field of listed.fields) {
          if (!field.optional && !(field.name in record)) {
            problems.push(`"${listed.message}": field ${field.name} missing`);
          }
        }
      }
      for (const field of catalogue.logFields) {
        if (!records.some((record) => field.name in record)) {
          problems.push(`log field ${field.name} never set`);
        }
      }
      for (const record of catalogue.logs) {
        checkPresence(
          `log record "${record.message}"`,
          record.when,
          seen.has(record.message),
          status,
          problems,
        );
      }
      // The OTLP copy of each record carries the same fields as attributes.
      for (const otlp of test.receiver.logs) {
        const listed = catalogue.logs.find((r) => r.pattern.test(String(otlp.body)));
        if (!listed) {
          problems.push(`OTLP log record "${otlp.body}" is not catalogued`);
          continue;
        }
        for (const key of Object.keys(otlp.attributes)) {
          if (!listed.fields.some((f) => f.name === key)) {
            problems.push(`OTLP "${listed.message}": attribute ${key} is not catalogued`);
          }
        }
      }
      await checkInSource(catalogue, status, problems);
      assert.deepEqual(problems, [], `${problems.length} differences from docs/telemetry.md`);
    } finally {
      if (!stopped) await test.stop();
      await proxy.stop();
      await Deno.remove(flagsDir, { recursive: true });
    }
  },
});
