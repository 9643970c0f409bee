/**
 * What a test needs from the machine (a server, a tool) and one rule for when it is missing: the
 * test is skipped, its name says what is missing, and `deno test` counts it as ignored; with
 * `CI_REQUIRE_ALL=1` (set by `.ci/run`, which installs and starts everything) it fails instead.
 *
 * Real servers come from the environment only: `DATABASE_URL` and `REDIS_URL`, as the host reads
 * them; a test never guesses a port. A server that is named must answer: its tests fail if not.
 *
 * @example
 * ```ts
 * import { missingTool, testWhen } from "./_test_needs.ts";
 * testWhen(missingTool("promtool", "prometheus"), {
 *   name: "the exposition passes promtool check metrics",
 *   fn: () => {},
 * });
 * ```
 * @module
 */

/** Why a test cannot run here, or undefined when it can. */
export type Missing = string | undefined;

/** True when every test must run (CI): a missing requirement fails its test. */
export const REQUIRE_ALL = Deno.env.get("CI_REQUIRE_ALL") === "1";

/**
 * Registers `definition` to run when nothing in `missing` is missing; otherwise it is skipped
 * with the reasons in its name (or, under `CI_REQUIRE_ALL=1`, fails with them).
 */
export function testWhen(
  missing: Missing | readonly Missing[],
  definition: Deno.TestDefinition,
): void {
  const reasons = [missing].flat().filter((reason): reason is string => reason !== undefined);
  if (reasons.length === 0) {
    Deno.test(definition);
    return;
  }
  const reason = reasons.join("; ");
  if (REQUIRE_ALL) {
    Deno.test({
      ...definition,
      ignore: false,
      fn: () => {
        throw new Error(`CI_REQUIRE_ALL=1 and this test cannot run: ${reason}`);
      },
    });
    return;
  }
  Deno.test({ ...definition, name: `${definition.name} [skipped: ${reason}]`, ignore: true });
}

/** Whether `tool` is an executable on PATH; the reason names the Debian package otherwise. */
export function missingTool(tool: string, debianPackage: string): Missing {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${tool}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return undefined;
    } catch {
      // not in this folder
    }
  }
  return `${tool} is not installed (apt-get install ${debianPackage})`;
}

/** The PostgreSQL server tests may use: `DATABASE_URL`, if set. */
export function postgresUrl(): string | undefined {
  return Deno.env.get("DATABASE_URL") || undefined;
}

/** The Redis server tests may use: `REDIS_URL`, if set. */
export function redisUrl(): string | undefined {
  return Deno.env.get("REDIS_URL") || undefined;
}

/** Why no PostgreSQL is named for tests, if none is: they use `DATABASE_URL` when it is set. */
export function missingPostgres(): Missing {
  return postgresUrl() === undefined
    ? "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres; .ci/run sets it)"
    : undefined;
}

/** Why no Redis is named for tests, if none is: they use `REDIS_URL` when it is set. */
export function missingRedis(): Missing {
  return redisUrl() === undefined
    ? "REDIS_URL is not set (e.g. redis://127.0.0.1:6379; .ci/run sets it)"
    : undefined;
}

/** Why no Kafka mock cluster can be started, if it cannot: it needs Debian's kcat. */
export function missingKcat(): Missing {
  return missingTool("kcat", "kcat");
}
