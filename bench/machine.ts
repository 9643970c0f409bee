/**
 * The machine and the versions a benchmark ran with, for the report.
 *
 * @example
 * ```ts
 * import { describeMachine } from "./machine.ts";
 * const machine = await describeMachine();
 * console.log(machine.cpu, machine.versions.deno);
 * ```
 * @module
 */

/** Where and with what the benchmark ran. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly kernel: string;
  readonly os: string;
  readonly versions: Readonly<Record<string, string>>;
}

async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const decoder = new TextDecoder();
    return decoder.decode(output.stdout) + decoder.decode(output.stderr);
  } catch {
    return "";
  }
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** The npm packages the report names, with the versions deno.json pins. */
const PACKAGES = [
  "hono",
  "prom-client",
  "kafkajs",
  "postgres",
  "@opentelemetry/api",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/sdk-logs",
  "@opentelemetry/exporter-trace-otlp-http",
  "@opentelemetry/exporter-logs-otlp-http",
  "@opentelemetry/context-async-hooks",
];

/** Describes this machine and the versions in use; `extra` adds server versions found elsewhere. */
export async function describeMachine(extra: Record<string, string> = {}): Promise<Machine> {
  const cpuinfo = readText("/proc/cpuinfo");
  const memKb = Number(readText("/proc/meminfo").match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const os = readText("/etc/os-release").match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? Deno.build.os;
  const imports = (JSON.parse(readText(new URL("../deno.json", import.meta.url).pathname)) as {
    imports: Record<string, string>;
  }).imports;
  const versions: Record<string, string> = {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
  for (const name of PACKAGES) {
    const specifier = imports[name];
    if (specifier) versions[name] = specifier.slice(specifier.lastIndexOf("@") + 1);
  }
  const wrk = (await commandOutput("wrk", ["-v"])).match(/wrk (\S+)/)?.[1];
  if (wrk) versions.wrk = wrk;
  const kcat = await commandOutput("kcat", ["-V"]);
  const librdkafka = kcat.match(/librdkafka (\S+)/)?.[1];
  const kcatVersion = kcat.match(/Version (\S+)/)?.[1];
  if (kcatVersion) versions.kcat = kcatVersion;
  if (librdkafka) versions["librdkafka (mock broker)"] = librdkafka;
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memory: `${(memKb / 2 ** 20).toFixed(1)} GiB`,
    kernel: Deno.osRelease(),
    os,
    versions: { ...versions, ...extra },
  };
}
