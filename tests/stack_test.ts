/**
 * Checks the observability stack as code without a Docker engine: docker-compose (v1) and
 * promtool/amtool validate what they can, and the rest is parsed and cross-referenced here.
 * Needs `docker-compose`, `promtool` (Debian package prometheus) and `amtool`
 * (prometheus-alertmanager); a test whose tool is missing is skipped, naming the package.
 */
import assert from "node:assert/strict";
import { type Missing, missingTool, testWhen } from "../runtime/_test_needs.ts";
import {
  dashboardPanels,
  type Doc,
  filesIn,
  metricFamilies,
  metricNamesQueriedByStack,
  parseYamlText,
  promqlMetricNames,
  readJson,
  readYaml,
  repoPath,
  STACK_GENERATED_METRICS,
  stackGeneratedReason,
  unproducedMetrics,
  variableQueryMetricNames,
} from "./_stack.ts";

/** The tools the checks run, and why each is missing, if it is. */
const needs = {
  compose: missingTool("docker-compose", "docker-compose"),
  promtool: missingTool("promtool", "prometheus"),
  amtool: missingTool("amtool", "prometheus-alertmanager"),
};

/** A check that runs `missing`'s tool: skipped (and counted) without it. */
function stackTest(missing: Missing, name: string, fn: () => Promise<void>): void {
  testWhen(missing, { name, fn });
}

const FUNCTION_SERVICES = { app1: 8001, app2: 8002, app3: 8003, app4: 8004, executor: 8005 };

/** Runs a tool from the repository root; fails with the Debian package when it is missing. */
async function run(tool: string, args: string[], debianPackage: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(tool, {
      args,
      cwd: repoPath("."),
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${tool} is not installed: apt-get install -y ${debianPackage}`);
    }
    throw error;
  }
  const decoder = new TextDecoder();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  if (!output.success) throw new Error(`${tool} ${args.join(" ")} failed:\n${text}`);
  return text;
}

let resolvedCompose: Promise<Doc> | undefined;

/** The compose file as docker-compose resolves it (all profiles, defaults interpolated). */
function composeConfig(): Promise<Doc> {
  resolvedCompose ??= resolveCompose();
  return resolvedCompose;
}

async function resolveCompose(): Promise<Doc> {
  const text = await run(
    "docker-compose",
    ["-f", "docker-compose.yml", "config"],
    "docker-compose",
  );
  return parseYamlText(text);
}

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: unknown };
  /** Long form, or `host_ip:published:target/proto` where a host address is given. */
  ports?: Array<{ published: number; target: number; host_ip?: string } | string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

/** A service's published ports, whichever form docker-compose printed them in. */
function portsOf(service: ComposeService): Array<{ published: number; hostIp?: string }> {
  return (service.ports ?? []).map((port) => {
    if (typeof port !== "string") return { published: port.published, hostIp: port.host_ip };
    const [hostIp, published] = port.split(":");
    return { published: Number(published), hostIp };
  });
}

function services(compose: Doc): Record<string, ComposeService> {
  return compose.services as Record<string, ComposeService>;
}

/** The repository file or folder a service sees at `containerPath`, through its bind mounts. */
function hostPathFor(service: ComposeService, containerPath: string): string | undefined {
  const root = repoPath(".").replace(/\/$/, "");
  for (const volume of service.volumes ?? []) {
    const [source, target] = volume.split(":");
    if (!source.startsWith("/")) continue;
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return `${source}${containerPath.slice(target.length)}`.replace(`${root}/`, "");
    }
  }
  return undefined;
}

function exists(relative: string): boolean {
  try {
    Deno.statSync(repoPath(relative));
    return true;
  } catch {
    return false;
  }
}

/** Host of a URL or `host:port` endpoint. */
function hostOf(endpoint: string): string {
  return new URL(endpoint.includes("://") ? endpoint : `scheme://${endpoint}`).hostname;
}

// ---------------------------------------------------------------------------- docker-compose

/** Services whose image cannot run a health check, and why. */
const NO_HEALTHCHECK: Record<string, string> = {
  "functions-install": "a one-shot job (deno install); the functions wait for it to complete",
  "otel-collector": "built from scratch: no shell and no HTTP client in the image",
  tempo: "Tempo 2.x has no self-probe and its BusyBox is gone from 2.9.3 on; 3.0 adds -health",
};

/**
 * What each pinned image really ships, read from its upstream Dockerfile at that version: the
 * commands a health check may run (`binaries`), and tools that are there only by accident of the
 * base image and gone in a nearby version (`incidental`), which no health check may rest on. A
 * new image or version fails the test until it is looked up and added here.
 */
const IMAGES: Record<string, { binaries: string[]; incidental?: string[]; evidence: string }> = {
  // apache/kafka docker/jvm/Dockerfile (3.9.1): eclipse-temurin:21-jre-alpine, Kafka in
  // /opt/kafka; its entrypoint /etc/kafka/docker/run is a bash script, so bash is there.
  "apache/kafka:3.9.1": {
    binaries: ["/opt/kafka/bin/kafka-broker-api-versions.sh", "sh", "bash"],
    evidence: "apache/kafka docker/jvm/Dockerfile",
  },
  // docker-library/postgres 17/alpine3.x/Dockerfile: the PostgreSQL client tools, BusyBox.
  "postgres:17.6-alpine": {
    binaries: ["pg_isready", "psql", "sh"],
    evidence: "docker-library/postgres 17/alpine Dockerfile",
  },
  // docker-library/redis 7.4/alpine/Dockerfile: redis-server and redis-cli, BusyBox.
  "redis:7.4.10-alpine": {
    binaries: ["redis-cli", "redis-server", "sh"],
    evidence: "docker-library/redis 7.4/alpine Dockerfile",
  },
  // hiett/serverless-redis-http Dockerfile at tag 0.0.10: FROM elixir:1.13.4-alpine (BusyBox
  // sh, wget, grep); the server listens on :80 (config/prod.exs, compiled into lib/srh.ex).
  "hiett/serverless-redis-http:0.0.10": {
    binaries: ["sh", "wget", "grep"],
    evidence: "hiett/serverless-redis-http Dockerfile @0.0.10",
  },
  // open-telemetry/opentelemetry-collector-releases distributions/otelcol-contrib Dockerfile:
  // FROM scratch, the collector binary alone.
  "otel/opentelemetry-collector-contrib:0.150.1": {
    binaries: ["/otelcol-contrib"],
    evidence: "opentelemetry-collector-releases otelcol-contrib Dockerfile (FROM scratch)",
  },
  // grafana/tempo cmd/tempo/Dockerfile @v2.9.0: distroless/static-debian12:debug, whose
  // BusyBox (wget) is removed from v2.9.3 on (distroless/static-debian12, no busybox); the
  // `-health` flag exists only from v3.0.0 (cmd/tempo/main.go).
  "grafana/tempo:2.9.0": {
    binaries: ["/tempo"],
    incidental: ["wget", "sh", "/busybox/wget", "/busybox/sh"],
    evidence: "grafana/tempo cmd/tempo/Dockerfile @v2.9.0 and @v2.9.3",
  },
  // grafana/loki cmd/loki/Dockerfile @v3.7.x: gcr.io/distroless/static:nonroot with
  // /usr/bin/loki alone; `loki -health` GETs http://localhost:3100/ready (cmd/loki/health.go,
  // added in #20313, in every release from 3.6.10 and 3.7.2 on).
  "grafana/loki:3.7.7": {
    binaries: ["/usr/bin/loki"],
    evidence: "grafana/loki cmd/loki/Dockerfile and cmd/loki/health.go @v3.7.6, release-3.7.x",
  },
  // prometheus/prometheus Dockerfile @v2.55.1: quay.io/prometheus/busybox, /bin/prometheus,
  // /bin/promtool.
  "prom/prometheus:v2.55.1": {
    binaries: ["/bin/prometheus", "/bin/promtool", "promtool", "wget", "sh"],
    evidence: "prometheus/prometheus Dockerfile @v2.55.1",
  },
  // prometheus/alertmanager Dockerfile @v0.28.1: quay.io/prometheus/busybox, alertmanager, amtool.
  "prom/alertmanager:v0.28.1": {
    binaries: ["/bin/alertmanager", "/bin/amtool", "amtool", "wget", "sh"],
    evidence: "prometheus/alertmanager Dockerfile @v0.28.1",
  },
  // grafana/grafana Dockerfile: the default tag is the Alpine build (BusyBox wget), the
  // Ubuntu one is tagged -ubuntu.
  "grafana/grafana:12.3.1": {
    binaries: ["grafana", "grafana-server", "wget", "sh"],
    evidence: "grafana/grafana Dockerfile (BASE_IMAGE alpine)",
  },
  // denoland/deno Dockerfile (debian): the deno binary.
  "denoland/deno:2.9.5": { binaries: ["deno"], evidence: "denoland/deno dockerfiles" },
};

/**
 * The default command of images whose command the stack replaces (their Dockerfile's CMD):
 * replacing it must keep each of these flags, or what they set is lost.
 */
const DEFAULT_FLAGS: Record<string, string[]> = {
  // prometheus/prometheus Dockerfile @v2.55.1 CMD.
  "prom/prometheus:v2.55.1": [
    "--config.file",
    "--storage.tsdb.path",
    "--web.console.libraries",
    "--web.console.templates",
  ],
  // prometheus/alertmanager Dockerfile @v0.28.1 CMD.
  "prom/alertmanager:v0.28.1": ["--config.file", "--storage.path"],
  // grafana/loki cmd/loki/Dockerfile CMD.
  "grafana/loki:3.7.7": ["-config.file"],
};

/** The commands a health check runs: the executable, or each command of a CMD-SHELL line. */
function healthcheckCommands(test: unknown): string[] {
  if (!Array.isArray(test) || test.length < 2) return [];
  const [kind, ...rest] = test as string[];
  if (kind === "CMD") return [rest[0]];
  if (kind !== "CMD-SHELL") return [];
  return rest.join(" ").split(/\|\||&&|\||;/).map((part) => part.trim().split(/\s+/)[0])
    .filter((word) => word !== "" && word !== "!");
}

stackTest(
  needs.compose,
  "docker-compose.yml is valid for docker-compose v1, with and without the host profile",
  async () => {
    await run("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], "docker-compose");
    await run(
      "docker-compose",
      ["-f", "docker-compose.yml", "--profile", "host", "config", "-q"],
      "docker-compose",
    );
  },
);

stackTest(
  needs.compose,
  "compose: images pinned, health checks, named volumes, documented ports",
  async () => {
    const compose = await composeConfig();
    const all = services(compose);
    for (const [name, service] of Object.entries(all)) {
      assert.match(
        service.image ?? "",
        /:v?\d+\.\d+(\.\d+)?[\w.-]*$/,
        `${name}: pin an exact image version`,
      );
      if (name in NO_HEALTHCHECK) {
        assert.equal(
          service.healthcheck,
          undefined,
          `${name}: has a health check now; drop it from NO_HEALTHCHECK`,
        );
      } else {
        assert.ok(
          service.healthcheck?.test,
          `${name}: add a health check (or a reason in NO_HEALTHCHECK)`,
        );
      }
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        assert.ok(all[dependency], `${name} depends on unknown service ${dependency}`);
        if (condition === "service_healthy") {
          assert.ok(
            all[dependency].healthcheck,
            `${name} waits for ${dependency} to be healthy, which has no check`,
          );
        }
      }
    }
    const declared = Object.keys((compose.volumes ?? {}) as Doc);
    const used = Object.values(all).flatMap((s) => (s.volumes ?? []).map((v) => v.split(":")[0]));
    for (const volume of declared) assert.ok(used.includes(volume), `volume ${volume} is unused`);
    for (
      const name of [
        "kafka",
        "postgres",
        "redis",
        "tempo",
        "loki",
        "prometheus",
        "alertmanager",
        "grafana",
      ]
    ) {
      const named = (all[name].volumes ?? []).some((v) => declared.includes(v.split(":")[0]));
      assert.ok(named, `${name} keeps its data in a named volume`);
    }
    const published = (name: string) => portsOf(all[name]).map((p) => p.published);
    assert.ok(published("grafana").includes(3000), "Grafana on 3000");
    assert.ok(published("prometheus").includes(9090), "Prometheus on 9090");
    assert.ok(published("otel-collector").includes(4318), "OTLP/HTTP on 4318");
    assert.ok(published("redis-rest").includes(8079), "the Upstash-compatible proxy on 8079");
    // One container per service; the Kafka-triggered ones run twice (their replicas share the
    // partitions) and are reached inside the network, the others publish their port.
    for (const [service, port] of Object.entries(FUNCTION_SERVICES)) {
      const container = all[service] as ComposeService & { deploy?: { replicas?: number } };
      assert.ok(container, `a ${service} container`);
      assert.deepEqual(container.profiles, ["host"], `${service}: the containers are opt-in`);
      assert.deepEqual(container.command?.slice(-2), ["--service", service]);
      const replicas = container.deploy?.replicas ?? 1;
      if (["app2", "app4"].includes(service)) {
        assert.equal(replicas, 2, `${service} runs twice`);
        assert.deepEqual(published(service), [], `${service}'s replicas publish no port`);
      } else {
        assert.equal(replicas, 1);
        assert.deepEqual(published(service), [port], `${service} publishes ${port}`);
      }
      assert.equal(container.environment?.HOST, "0.0.0.0", `${service} listens beyond loopback`);
    }
  },
);

stackTest(
  needs.compose,
  "compose: every health check runs a command its pinned image really ships",
  async () => {
    const all = services(await composeConfig());
    for (const [name, service] of Object.entries(all)) {
      const image = IMAGES[service.image ?? ""];
      assert.ok(
        image,
        `${name}: ${service.image} is not in IMAGES; look up what it ships (its Dockerfile at ` +
          "that version) before relying on it",
      );
      for (const command of healthcheckCommands(service.healthcheck?.test)) {
        assert.ok(
          !(image.incidental ?? []).includes(command),
          `${name}: the health check runs ${command}, which ${service.image} ships only by ` +
            `accident of its base image (${image.evidence})`,
        );
        assert.ok(
          image.binaries.includes(command),
          `${name}: the health check runs ${command}, which ${service.image} does not ship ` +
            `(${image.evidence})`,
        );
      }
    }
  },
);

Deno.test("healthcheckCommands reads CMD and CMD-SHELL checks", () => {
  assert.deepEqual(healthcheckCommands(["CMD", "/usr/bin/loki", "-health"]), ["/usr/bin/loki"]);
  assert.deepEqual(
    healthcheckCommands(["CMD-SHELL", "wget -q -O - http://x/ | grep -q PONG && test -f a"]),
    ["wget", "grep", "test"],
  );
  assert.deepEqual(healthcheckCommands(["NONE"]), []);
  assert.deepEqual(healthcheckCommands(undefined), []);
});

stackTest(
  needs.compose,
  "compose: a replaced command keeps every flag of the image's default command",
  async () => {
    const all = services(await composeConfig());
    for (const [name, service] of Object.entries(all)) {
      const defaults = DEFAULT_FLAGS[service.image ?? ""];
      if (!defaults || !service.command) continue;
      const given = service.command.map((arg) => arg.split("=")[0]);
      for (const flag of defaults) {
        assert.ok(given.includes(flag), `${name}: replacing the command drops ${flag}`);
      }
    }
  },
);

stackTest(
  needs.compose,
  "compose: every mounted config file exists and every --config.file points at one",
  async () => {
    const all = services(await composeConfig());
    for (const [name, service] of Object.entries(all)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0];
        if (source.startsWith("/")) {
          assert.ok(
            exists(hostPathFor(service, volume.split(":")[1]) ?? ""),
            `${name}: ${source} is missing`,
          );
        }
      }
      for (const arg of service.command ?? []) {
        const config = /^--?config\.file=(.+)$/.exec(arg)?.[1];
        if (!config) continue;
        const file = hostPathFor(service, config);
        assert.ok(file && exists(file), `${name}: ${config} is not a mounted repository file`);
      }
    }
    const collector = all["otel-collector"];
    const collectorConfig =
      (collector.command ?? []).find((a) => a.startsWith("--config="))?.slice(9) ?? "";
    assert.equal(hostPathFor(collector, collectorConfig), "otel-collector/config.yaml");
    const grafana = all.grafana;
    const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? "";
    assert.ok(
      exists(hostPathFor(grafana, home) ?? ""),
      `Grafana home dashboard ${home} is not mounted`,
    );
  },
);

// ---------------------------------------------------------------------------- Prometheus

stackTest(needs.promtool, "promtool check config (and the rule files it references)", async () => {
  await run("promtool", ["check", "config", "prometheus/prometheus.yml"], "prometheus");
});

stackTest(needs.promtool, "promtool check rules", async () => {
  await run("promtool", ["check", "rules", ...filesIn("prometheus/rules", [".yml"])], "prometheus");
});

stackTest(needs.promtool, "promtool test rules", async () => {
  await run("promtool", ["test", "rules", ...filesIn("prometheus/tests", [".yml"])], "prometheus");
});

Deno.test("every alert has a unit test where it fires and one where it stays quiet", () => {
  const alerts = filesIn("prometheus/rules", [".yml"]).flatMap((file) =>
    ((readYaml(file).groups ?? []) as Array<{ rules: Array<{ alert?: string }> }>)
      .flatMap((g) => g.rules).flatMap((r) => r.alert ? [r.alert] : [])
  );
  const cases = filesIn("prometheus/tests", [".yml"]).flatMap((file) =>
    ((readYaml(file).tests ?? []) as Array<
      { alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }
    >)
      .flatMap((t) => t.alert_rule_test ?? [])
  );
  assert.ok(
    alerts.length >= 5,
    "error rate, latency, consumer lag, stopped function, silent executor",
  );
  for (const alert of alerts) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `no test where ${alert} fires`);
    assert.ok(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `no test where ${alert} stays quiet`,
    );
  }
});

stackTest(
  needs.compose,
  "Prometheus scrapes every functions service with its service label, and the stack",
  async () => {
    const config = readYaml("prometheus/prometheus.yml");
    const jobs = config.scrape_configs as Array<
      {
        job_name: string;
        static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
        dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
        relabel_configs?: unknown[];
      }
    >;
    const functions = jobs.find((j) => j.job_name === "functions");
    assert.ok(functions, "a functions job");
    const scraped = Object.fromEntries(
      functions.static_configs.flatMap((c) => c.targets.map((t) => [c.labels?.service, t])),
    );
    assert.deepEqual(
      scraped,
      Object.fromEntries(
        Object.entries(FUNCTION_SERVICES).map((
          [service, port],
        ) => [service, `host.docker.internal:${port}`]),
      ),
      "deno task dev on the docker host",
    );
    // The compose containers, every replica, by DNS; the relabelling names the service.
    const dns = Object.fromEntries(
      (functions.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => [n, c.port])),
    );
    assert.deepEqual(dns, FUNCTION_SERVICES);
    assert.deepEqual(functions.relabel_configs, [
      { source_labels: ["__meta_dns_name"], regex: "(.+)", target_label: "service" },
    ]);
    const all = services(await composeConfig());
    assert.ok(
      (all.prometheus as { extra_hosts?: string[] }).extra_hosts?.some((h) =>
        h.startsWith("host.docker.internal:")
      ),
      "Prometheus resolves host.docker.internal",
    );
    const targets = jobs.filter((j) => j.job_name !== "functions")
      .flatMap((j) => j.static_configs.flatMap((c) => c.targets));
    for (const name of Object.keys(dns)) assert.ok(all[name], `${name} is not a compose service`);
    for (const target of targets) {
      const host = hostOf(target);
      assert.ok(
        host === "localhost" || all[host],
        `scrape target ${target} is not a compose service`,
      );
    }
    assert.ok(targets.includes("otel-collector:8889"), "the collector's span metrics are scraped");
    const alertmanagers = (config.alerting as {
      alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }>;
    })
      .alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets));
    for (const target of alertmanagers) {
      assert.ok(all[hostOf(target)], `${target} is not a compose service`);
    }
    const flags = all.prometheus.command ?? [];
    for (
      const flag of ["--enable-feature=exemplar-storage", "--web.enable-remote-write-receiver"]
    ) {
      assert.ok(flags.includes(flag), `prometheus needs ${flag}`);
    }
  },
);

stackTest(needs.amtool, "amtool check-config alertmanager.yml", async () => {
  await run("amtool", ["check-config", "alertmanager/alertmanager.yml"], "prometheus-alertmanager");
});

// ---------------------------------------------------------------------------- Collector

stackTest(
  needs.compose,
  "collector pipelines use only defined components, and every component is used",
  async () => {
    const config = readYaml("otel-collector/config.yaml");
    const defined = (section: string) => Object.keys((config[section] ?? {}) as Doc);
    const service = config.service as {
      extensions?: string[];
      pipelines: Record<
        string,
        { receivers: string[]; processors?: string[]; exporters: string[] }
      >;
    };
    const receivers = defined("receivers");
    const processors = defined("processors");
    const exporters = defined("exporters");
    const connectors = defined("connectors");
    const usedAs = {
      receiver: new Set<string>(),
      processor: new Set<string>(),
      exporter: new Set<string>(),
    };
    for (const [name, pipeline] of Object.entries(service.pipelines)) {
      for (const r of pipeline.receivers) {
        assert.ok(
          receivers.includes(r) || connectors.includes(r),
          `${name}: receiver ${r} is not defined`,
        );
        usedAs.receiver.add(r);
      }
      for (const p of pipeline.processors ?? []) {
        assert.ok(processors.includes(p), `${name}: processor ${p} is not defined`);
        usedAs.processor.add(p);
      }
      for (const e of pipeline.exporters) {
        assert.ok(
          exporters.includes(e) || connectors.includes(e),
          `${name}: exporter ${e} is not defined`,
        );
        usedAs.exporter.add(e);
      }
      assert.equal(
        pipeline.processors?.[0],
        "memory_limiter",
        `${name}: memory_limiter comes first`,
      );
      assert.ok(pipeline.processors?.includes("batch"), `${name}: batches`);
    }
    for (const r of receivers) assert.ok(usedAs.receiver.has(r), `receiver ${r} is unused`);
    for (const p of processors) assert.ok(usedAs.processor.has(p), `processor ${p} is unused`);
    for (const e of exporters) assert.ok(usedAs.exporter.has(e), `exporter ${e} is unused`);
    for (const c of connectors) {
      assert.ok(
        usedAs.exporter.has(c) && usedAs.receiver.has(c),
        `connector ${c} must end one pipeline and start another`,
      );
    }
    for (const e of service.extensions ?? []) {
      assert.ok(defined("extensions").includes(e), `extension ${e} is not defined`);
    }

    const types = (names: string[]) => names.map((n) => n.split("/")[0]);
    assert.ok(
      !types(exporters).includes("loki"),
      "the loki exporter is gone from the collector: use otlp_http",
    );
    const signals = (exporter: string) =>
      Object.entries(service.pipelines).filter(([, p]) => p.exporters.includes(exporter)).map((
        [n],
      ) => n.split("/")[0]);
    const exporterConfig = config.exporters as Record<string, { endpoint: string }>;
    const all = services(await composeConfig());
    for (const [name, { endpoint }] of Object.entries(exporterConfig)) {
      const host = hostOf(endpoint);
      assert.ok(
        host === "0.0.0.0" || all[host],
        `exporter ${name} sends to ${host}, not a compose service`,
      );
    }
    const byHost = (host: string) =>
      Object.keys(exporterConfig).find((n) => hostOf(exporterConfig[n].endpoint) === host);
    assert.deepEqual(signals(byHost("tempo") ?? ""), ["traces"], "traces go to Tempo");
    assert.deepEqual(signals(byHost("loki") ?? ""), ["logs"], "logs go to Loki");
    assert.match(
      exporterConfig[byHost("loki") ?? ""].endpoint,
      /:3100\/otlp$/,
      "Loki's native OTLP endpoint",
    );
    assert.ok(connectors.includes("spanmetrics"), "span metrics give every function RED metrics");
    assert.ok(
      ((config.connectors as Doc).spanmetrics as { exemplars?: { enabled?: boolean } }).exemplars
        ?.enabled,
      "span metrics carry exemplars",
    );
    const otlp = (config.receivers as { otlp: { protocols: { http: { endpoint: string } } } }).otlp;
    assert.match(
      otlp.protocols.http.endpoint,
      /^0\.0\.0\.0:4318$/,
      "OTLP/HTTP listens for the host",
    );
  },
);

// ---------------------------------------------------------------------------- Tempo, Loki

stackTest(
  needs.compose,
  "Tempo generates service graphs and span metrics into Prometheus, on its volume",
  async () => {
    const tempo = readYaml("tempo/tempo.yaml") as {
      metrics_generator: {
        storage: { path: string; remote_write: Array<{ url: string; send_exemplars?: boolean }> };
      };
      storage: { trace: { wal: { path: string }; local: { path: string } } };
      overrides: { defaults: { metrics_generator: { processors: string[] } } };
    };
    const processors = tempo.overrides.defaults.metrics_generator.processors;
    assert.ok(processors.includes("service-graphs") && processors.includes("span-metrics"));
    const all = services(await composeConfig());
    for (const write of tempo.metrics_generator.storage.remote_write) {
      assert.equal(hostOf(write.url), "prometheus");
      assert.ok(write.send_exemplars, "exemplars reach Prometheus");
    }
    const volume =
      (all.tempo.volumes ?? []).find((v) => v.startsWith("tempo-data:"))?.split(":")[1] ?? "?";
    for (
      const path of [
        tempo.metrics_generator.storage.path,
        tempo.storage.trace.wal.path,
        tempo.storage.trace.local.path,
      ]
    ) {
      assert.ok(path.startsWith(`${volume}/`), `${path} is outside the tempo-data volume`);
    }
  },
);

stackTest(
  needs.compose,
  "Loki accepts OTLP logs with structured metadata, on its volume",
  async () => {
    const loki = readYaml("loki/loki.yaml") as {
      common: { path_prefix: string };
      schema_config: { configs: Array<{ store: string; schema: string }> };
      limits_config: { allow_structured_metadata?: boolean };
    };
    const latest = loki.schema_config.configs.at(-1);
    assert.deepEqual(
      [latest?.store, latest?.schema],
      ["tsdb", "v13"],
      "structured metadata needs tsdb v13",
    );
    assert.notEqual(loki.limits_config.allow_structured_metadata, false);
    const all = services(await composeConfig());
    const volume = (all.loki.volumes ?? []).find((v) => v.startsWith("loki-data:"))?.split(":")[1];
    assert.equal(loki.common.path_prefix, volume);
  },
);

// ---------------------------------------------------------------------------- Grafana

const DATASOURCES = "grafana/provisioning/datasources/datasources.yml";
/** Grafana's built-in annotation data source. */
const BUILT_IN_UIDS = ["-- Grafana --", "grafana"];
/** Grafana's global variables. */
const GRAFANA_VARIABLES = [
  "__rate_interval",
  "__interval",
  "__interval_ms",
  "__range",
  "__range_s",
  "__all",
];

function datasources(): Array<
  { name: string; uid: string; type: string; url: string; isDefault?: boolean; jsonData?: Doc }
> {
  return readYaml(DATASOURCES).datasources as never;
}

/** Every `datasourceUid` value anywhere in a document. */
function datasourceUidReferences(value: unknown, path = ""): Array<[string, string]> {
  if (Array.isArray(value)) {
    return value.flatMap((v, i) => datasourceUidReferences(v, `${path}[${i}]`));
  }
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, v]) =>
      key === "datasourceUid"
        ? [[path, String(v)] as [string, string]]
        : datasourceUidReferences(v, `${path}.${key}`)
    );
  }
  return [];
}

/** The Grafana version {@linkcode GRAFANA_JSON_DATA} describes. */
const GRAFANA_IMAGE = "grafana/grafana:12.3.1";

/** Settings every data source type accepts (`DataSourceJsonData` and the HTTP settings). */
const COMMON_JSON_DATA = [
  "authType",
  "defaultRegion",
  "profile",
  "manageAlerts",
  "alertmanagerUid",
  "timeout",
  "keepCookies",
  "tlsAuth",
  "tlsAuthWithCACert",
  "tlsSkipVerify",
  "serverName",
  "oauthPassThru",
];

/**
 * The `jsonData` settings each data source type reads in the pinned Grafana, from the plugins'
 * option types at 12.x; anything else is ignored without a word, which is how a removed setting
 * (Tempo's `lokiSearch`, gone in Grafana 11 with the Loki search query type) lingers unnoticed.
 */
const GRAFANA_JSON_DATA: Record<string, { keys: string[]; evidence: string }> = {
  tempo: {
    keys: [
      "tracesToLogsV2",
      "tracesToLogs",
      "tracesToMetrics",
      "tracesToProfiles",
      "serviceMap",
      "search",
      "nodeGraph",
      "spanBar",
      "tagLimit",
      "traceQuery",
      "streamingEnabled",
      "timeRangeForTags",
    ],
    evidence: "public/app/plugins/datasource/tempo/types.ts TempoJsonData and the trace-link " +
      "settings of @grafana/o11y-ds-frontend its ConfigEditor writes",
  },
  loki: {
    keys: ["maxLines", "derivedFields", "alertmanager", "predefinedOperations"],
    evidence: "public/app/plugins/datasource/loki/types.ts LokiOptions",
  },
  prometheus: {
    keys: [
      "httpMethod",
      "prometheusType",
      "prometheusVersion",
      "timeInterval",
      "queryTimeout",
      "exemplarTraceIdDestinations",
      "customQueryParameters",
      "cacheLevel",
      "incrementalQuerying",
      "incrementalQueryOverlapWindow",
      "disableRecordingRules",
      "defaultEditor",
      "seriesEndpoint",
      "allowAsRecordingRulesTarget",
    ],
    evidence: "packages/grafana-prometheus/src/types.ts PromOptions",
  },
  alertmanager: {
    keys: ["implementation", "handleGrafanaManagedAlerts"],
    evidence: "public/app/plugins/datasource/alertmanager/types.ts AlertManagerDataSourceJsonData",
  },
};

stackTest(
  needs.compose,
  "Grafana data sources use only settings the pinned Grafana reads",
  async () => {
    const all = services(await composeConfig());
    assert.equal(
      all.grafana.image,
      GRAFANA_IMAGE,
      "Grafana was bumped: check GRAFANA_JSON_DATA against the new version's plugin option types",
    );
    for (const source of datasources()) {
      const known = GRAFANA_JSON_DATA[source.type];
      assert.ok(known, `${source.name}: add the ${source.type} settings to GRAFANA_JSON_DATA`);
      for (const key of Object.keys(source.jsonData ?? {})) {
        assert.ok(
          known.keys.includes(key) || COMMON_JSON_DATA.includes(key),
          `${source.name}: jsonData.${key} is not read by Grafana ${
            GRAFANA_IMAGE.split(":")[1]
          } (${known.evidence})`,
        );
      }
    }
  },
);

stackTest(
  needs.compose,
  "Grafana provisioning files parse and data sources link to each other",
  async () => {
    for (
      const file of [
        ...filesIn("grafana/provisioning/datasources", [".yml"]),
        ...filesIn("grafana/provisioning/dashboards", [".yml"]),
      ]
    ) {
      assert.equal(readYaml(file).apiVersion, 1, `${file}: apiVersion 1`);
    }
    const sources = datasources();
    const uids = sources.map((s) => s.uid);
    assert.equal(new Set(uids).size, uids.length, "data source uids are unique");
    assert.equal(sources.filter((s) => s.isDefault).length, 1, "one default data source");
    for (const source of sources) {
      for (const [path, uid] of datasourceUidReferences(source.jsonData, source.name)) {
        assert.ok(uids.includes(uid), `${path} links to unknown data source ${uid}`);
      }
    }
    const byType = (type: string) => sources.find((s) => s.type === type)?.jsonData ?? {};
    const tempo = byType("tempo") as {
      tracesToLogsV2?: { datasourceUid: string; query?: string };
      tracesToMetrics?: { datasourceUid: string };
      serviceMap?: { datasourceUid: string };
      nodeGraph?: { enabled: boolean };
      search?: { hide?: boolean };
    };
    const uidOf = (type: string) => sources.find((s) => s.type === type)?.uid;
    assert.equal(tempo.tracesToLogsV2?.datasourceUid, uidOf("loki"), "trace → logs");
    assert.match(
      tempo.tracesToLogsV2?.query ?? "",
      /trace_id\s*=\s*"\$\$\{__trace\.traceId\}"/,
      "logs of the trace, by trace_id",
    );
    assert.equal(tempo.tracesToMetrics?.datasourceUid, uidOf("prometheus"), "trace → metrics");
    assert.equal(tempo.serviceMap?.datasourceUid, uidOf("prometheus"), "service map");
    assert.equal(tempo.nodeGraph?.enabled, true, "node graph");
    assert.equal(tempo.search?.hide, false, "TraceQL search is shown");
    const loki = byType("loki") as {
      derivedFields?: Array<{ matcherType?: string; matcherRegex: string; datasourceUid?: string }>;
    };
    assert.ok(
      loki.derivedFields?.some((f) =>
        f.matcherType === "label" && f.matcherRegex === "trace_id" &&
        f.datasourceUid === uidOf("tempo")
      ),
      "log line → trace through trace_id",
    );
    const prometheus = byType("prometheus") as {
      exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }>;
    };
    const exemplarLabels = (prometheus.exemplarTraceIdDestinations ?? []).filter((d) =>
      d.datasourceUid === uidOf("tempo")
    ).map((d) => d.name);
    assert.ok(exemplarLabels.includes("trace_id"), "collector exemplars (trace_id) → trace");
    assert.ok(
      exemplarLabels.includes("traceID"),
      "Tempo metrics-generator exemplars (traceID) → trace",
    );
    const all = services(await composeConfig());
    for (const source of sources) {
      assert.ok(all[hostOf(source.url)], `${source.name}: ${source.url} is not a compose service`);
    }
  },
);

stackTest(
  needs.compose,
  "dashboards parse, are provisioned, and use only provisioned data sources and variables",
  async () => {
    const uids = datasources().map((s) => s.uid);
    const files = filesIn("grafana/dashboards", [".json"]);
    assert.ok(files.length >= 3, "RED overview, Kafka and host runtime dashboards");
    const dashboardUids = new Set<string>();
    for (const file of files) {
      const dashboard = readJson(file);
      const uid = String(dashboard.uid);
      assert.ok(!dashboardUids.has(uid), `${file}: duplicate dashboard uid ${uid}`);
      dashboardUids.add(uid);
      const variables = ((dashboard.templating as Doc).list ?? []) as Array<
        { name: string; datasource?: { uid?: string } }
      >;
      const known = [...variables.map((v) => v.name), ...GRAFANA_VARIABLES];
      const panels = dashboardPanels(dashboard);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
      const sources = [
        ...panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
        ...variables.map((v) => v.datasource),
        ...(((dashboard.annotations as Doc).list ?? []) as Array<{ datasource?: { uid?: string } }>)
          .map((a) => a.datasource),
      ];
      for (const source of sources) {
        if (source?.uid) {
          assert.ok(
            [...uids, ...BUILT_IN_UIDS].includes(source.uid),
            `${file}: unknown data source ${source.uid}`,
          );
        }
      }
      for (const panel of panels.filter((p) => p.type !== "row")) {
        assert.ok((panel.targets ?? []).length > 0, `${file}: panel "${panel.title}" has no query`);
        for (const target of panel.targets ?? []) {
          assert.ok(target.expr?.trim(), `${file}: panel "${panel.title}" has an empty query`);
          for (const [, name] of target.expr!.matchAll(/\$\{?(\w+)/g)) {
            assert.ok(
              known.includes(name),
              `${file}: panel "${panel.title}" uses undefined variable $${name}`,
            );
          }
        }
      }
    }
    const provider = (readYaml("grafana/provisioning/dashboards/dashboards.yml").providers as Array<
      { options: { path: string } }
    >)[0];
    const all = services(await composeConfig());
    assert.equal(
      hostPathFor(all.grafana, provider.options.path),
      "grafana/dashboards",
      "the provider loads grafana/dashboards",
    );
    for (const file of filesIn("prometheus/rules", [".yml"])) {
      for (
        const [, uid] of Deno.readTextFileSync(repoPath(file)).matchAll(
          /localhost:3000\/d\/([\w-]+)/g,
        )
      ) {
        assert.ok(dashboardUids.has(uid), `${file} links to missing dashboard ${uid}`);
      }
    }
  },
);

// ---------------------------------------------------------------------------- metric names

Deno.test("promqlMetricNames finds metric names, not functions, labels, keywords or variables", () => {
  const cases: Array<[string, string[]]> = [
    [
      'sum by (service, route) (rate(http_requests_total{job="functions", status=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m])) > 0.05',
      ["http_requests_total"],
    ],
    [
      'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{route!~"/metrics|/healthz"}[$__rate_interval])))',
      ["http_request_duration_seconds"],
    ],
    ["time() - max by (function) (cron_last_success_timestamp_seconds)", [
      "cron_last_success_timestamp_seconds",
    ]],
    [
      "a_total offset 5m and on (x) group_left (y) b_count > bool 1e3 unless c_sum",
      ["a_total", "b", "c"],
    ],
    ['{__name__="deno_memory_rss_bytes", job="functions"}', ["deno_memory_rss_bytes"]],
    ["sum(increase(kafka_messages_failed_total[1h])) or vector(0)", [
      "kafka_messages_failed_total",
    ]],
    ['label_replace(up, "dst", "$1", "instance", "(.*):.*")', ["up"]],
    ['sum(rate(x_total{service=~"${service}", topic=~"[[topic]]"}[$__interval])) * 60', [
      "x_total",
    ]],
    ["sum(rate(traces_span_metrics_calls_total{$__tags}[5m])) by (span_name)", [
      "traces_span_metrics_calls_total",
    ]],
    ["max_over_time(deno_event_loop_lag_seconds[10m:1m]) > Inf", ["deno_event_loop_lag_seconds"]],
  ];
  for (const [expr, expected] of cases) assert.deepEqual(promqlMetricNames(expr), expected, expr);
  assert.deepEqual(
    variableQueryMetricNames('label_values(process_start_time_seconds{job="functions"}, service)'),
    ["process_start_time_seconds"],
  );
  assert.deepEqual(variableQueryMetricNames("label_values(up, service)"), ["up"]);
  assert.deepEqual(variableQueryMetricNames("label_values(service)"), []);
  assert.deepEqual(variableQueryMetricNames("query_result(topk(3, kafka_consumer_lag))"), [
    "kafka_consumer_lag",
  ]);
});

Deno.test("metricNamesQueriedByStack covers dashboards, variables, rules and trace-to-metrics links", () => {
  const queried = metricNamesQueriedByStack();
  const names = new Set(queried.map((m) => m.name));
  for (const m of queried) {
    assert.match(m.name, /^[A-Za-z_:][A-Za-z0-9_:]*$/, `${m.where}: ${m.name}`);
    assert.doesNotMatch(
      m.name,
      /_(bucket|sum|count)$/,
      `${m.where}: ${m.name} is reported by family`,
    );
  }
  for (
    const expected of [
      "http_server_request_duration_seconds",
      "messaging_kafka_consumer_lag",
      "messaging_client_dead_lettered_messages_total",
      "faas_invocations_total",
      "otel_sdk_exporter_span_exported_total",
      "up",
    ]
  ) {
    assert.ok(names.has(expected), `${expected} is queried`);
  }
  const wheres = queried.map((m) => m.where);
  for (
    const source of [
      "grafana/dashboards/",
      "prometheus/rules/",
      "tracesToMetrics",
      "variable $service",
    ]
  ) {
    assert.ok(wheres.some((w) => w.includes(source)), `nothing found in ${source}`);
  }
  for (const entry of STACK_GENERATED_METRICS) {
    assert.ok(entry.reason.length > 20, `${entry.prefix}: say what produces it`);
    assert.ok(
      [...names].some((n) => stackGeneratedReason(n) === entry.reason),
      `${entry.prefix} is allowlisted but never queried`,
    );
  }
});

Deno.test("unproducedMetrics compares against a /metrics exposition, allowlist aside", () => {
  const exposition = [
    "# HELP http_request_duration_seconds Duration",
    "# TYPE http_request_duration_seconds histogram",
    'http_request_duration_seconds_bucket{le="0.1"} 1',
    "# TYPE kafka_consumer_lag gauge",
    "untyped_metric 3",
  ].join("\n");
  assert.deepEqual([...metricFamilies(exposition)].sort(), [
    "http_request_duration_seconds",
    "kafka_consumer_lag",
    "untyped_metric",
  ]);
  const missing = unproducedMetrics([
    { name: "http_request_duration_seconds", where: "a" },
    { name: "kafka_consumer_lag", where: "b" },
    { name: "traces_span_metrics_calls_total", where: "c" },
    { name: "up", where: "d" },
    { name: "kafka_consumer_lagg", where: "e" },
  ], exposition);
  assert.deepEqual(missing, [{ name: "kafka_consumer_lagg", where: "e" }]);
});

stackTest(needs.compose, "compose: the stack publishes its ports on 127.0.0.1 only", async () => {
  const all = services(await composeConfig());
  const open = Object.entries(all).flatMap(([name, service]) =>
    portsOf(service).filter((port) => port.hostIp !== "127.0.0.1").map((port) =>
      `${name}:${port.published}`
    )
  );
  assert.deepEqual(open, []);
  const grafana = all.grafana.environment ?? {};
  assert.notEqual(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE, "Admin", "no anonymous admin");
  assert.notEqual(grafana.GF_AUTH_DISABLE_LOGIN_FORM, "true", "the admin can log in");
});
