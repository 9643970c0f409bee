import assert from "node:assert/strict";
import { missingTool } from "./_test_needs.ts";

/** Runs `deno test` on a file registering one test that needs `missing`, with `env` added. */
async function runNeeding(missing: string | undefined, env: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "test-needs-" });
  try {
    const file = `${dir}/needs_test.ts`;
    const needs = new URL("./_test_needs.ts", import.meta.url).href;
    await Deno.writeTextFile(
      file,
      `import { testWhen } from ${JSON.stringify(needs)};\n` +
        `testWhen(${JSON.stringify(missing)}, { name: "needs a server", fn() {} });\n`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-check", "--no-config", "-A", file],
      // Not inherited: .ci/run sets CI_REQUIRE_ALL=1 for the suite itself.
      env: { NO_COLOR: "1", CI_REQUIRE_ALL: "0", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("testWhen: a missing requirement skips the test, named and counted as ignored", async () => {
  const { code, text } = await runNeeding("redis-server is not installed");
  assert.equal(code, 0, text);
  assert.match(text, /needs a server \[skipped: redis-server is not installed\] \.\.\. ignored/);
  assert.match(text, /0 passed \| 0 failed \| 1 ignored/);
});

Deno.test("testWhen: under CI_REQUIRE_ALL=1 a missing requirement fails the test, saying why", async () => {
  const { code, text } = await runNeeding("redis-server is not installed", {
    CI_REQUIRE_ALL: "1",
  });
  assert.notEqual(code, 0, text);
  assert.match(text, /CI_REQUIRE_ALL=1 and this test cannot run: redis-server is not installed/);
  assert.match(text, /0 passed \| 1 failed/);
});

Deno.test("testWhen: with nothing missing the test runs, under CI_REQUIRE_ALL=1 too", async () => {
  for (const env of [{}, { CI_REQUIRE_ALL: "1" }] as Record<string, string>[]) {
    const { code, text } = await runNeeding(undefined, env);
    assert.equal(code, 0, text);
    assert.match(text, /1 passed \| 0 failed/);
  }
});

Deno.test("missingTool: names the Debian package of a tool not on PATH", () => {
  assert.equal(
    missingTool("no-such-tool-here", "some-package"),
    "no-such-tool-here is not installed (apt-get install some-package)",
  );
  assert.equal(missingTool("sh", "dash"), undefined);
});
