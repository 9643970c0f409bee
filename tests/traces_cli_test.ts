/**
 * `deno task traces` against a live console (the real host in process, the executor every
 * second): the latest traces print as trees, `--json` prints the API's JSON, `--follow` prints
 * new traces as they complete and stops cleanly on SIGINT; a console that is not there is said.
 */
import assert from "node:assert/strict";
import { waitFor } from "../testing/wait.ts";
import { startTestHost } from "./_harness.ts";
import type { TraceDetail } from "../runtime/console/model.ts";
import { ConsoleStore } from "../runtime/console/store.ts";
import { serveConsole } from "../runtime/console/server.ts";
import { FixtureReader } from "../runtime/console/pages/_fixture.ts";

const root = new URL("..", import.meta.url).pathname;

function traces(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "traces", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "deno task traces prints trees, JSON and followed traces from a live console",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const test = await startTestHost({ env: { LOG_LEVEL: "warn" } });
    try {
      const url = test.host.console?.url;
      assert.ok(url, "the test host serves a console");
      await waitFor("a complete Kafka trace", async () => {
        const response = await fetch(`${url}/api/traces?name=process+Purchase2`);
        const { traces } = await response.json() as { traces: { spanCount: number }[] };
        return traces.some((trace) => trace.spanCount === 10) ? true : undefined;
      }, 40_000);

      await t.step("the latest traces as trees", async () => {
        const { code, stdout } = await traces([
          "--url",
          url,
          "--limit",
          "1",
          "--name",
          "process Purchase2",
          "--min-ms",
          "0",
        ]).output();
        const text = new TextDecoder().decode(stdout);
        assert.equal(code, 0, text);
        const lines = text.trimEnd().split("\n");
        assert.match(
          lines[0],
          /^\d\d:\d\d:\d\d\.\d{3} {2}call-post-message {2}\(executor\) {2}\S+ \S+ {2}10 spans {2}[0-9a-f]{32}$/,
        );
        assert.match(lines[1], /Kafka send .* · Kafka process .* · Redis .* · HTTP /);
        assert.match(text, /\n {2}└─ POST \(executor\) → app1 +\S+ \S+ ▕/);
        assert.match(text, /└─ process Purchase \(app2\) {2}\(\S+ \S+ in topic\)/);
        assert.match(text, /└─ SET \(app4\) → redis +\S+ \S+ ▕[ █░]+▏\n/);
        assert.ok(!text.includes("\x1b"), "no colour through a pipe");
      });

      await t.step("--json prints the API's JSON, one trace per line", async () => {
        await waitFor("three traces in the console", async () => {
          const response = await fetch(`${url}/api/traces?limit=3`);
          const { traces } = await response.json() as { traces: unknown[] };
          return traces.length === 3 ? true : undefined;
        }, 20_000);
        const { code, stdout } = await traces(["--url", url, "--limit", "3", "--json"]).output();
        assert.equal(code, 0);
        const details = new TextDecoder().decode(stdout).trim().split("\n").map((line) =>
          JSON.parse(line) as TraceDetail
        );
        assert.equal(details.length, 3);
        for (const detail of details) {
          const response = await fetch(`${url}/api/traces/${detail.traceId}`);
          const api = await response.json() as TraceDetail;
          assert.equal(detail.spans.length > 0, true);
          assert.deepEqual(Object.keys(detail).sort(), Object.keys(api).sort());
          assert.equal(detail.summary.spanCount, detail.spans.length);
        }
      });

      await t.step(
        "--follow prints traces that complete after it started, stops on SIGINT",
        async () => {
          const started = Date.now();
          const child = traces(["--url", url, "--limit", "1", "--follow", "--settle-ms", "300"])
            .spawn();
          const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
          let text = "";
          const headers =
            () => [...text.matchAll(/^\d\d:\d\d:\d\d\.\d{3} {2}(\S+) .* ([0-9a-f]{32})$/gm)];
          while (headers().length < 3) {
            const { value, done } = await reader.read();
            if (done) break;
            text += value;
            assert.ok(Date.now() - started < 20_000, `three traces within 20 s:\n${text}`);
          }
          child.kill("SIGINT");
          const status = await child.status;
          reader.releaseLock();
          await child.stdout.cancel().catch(() => {});
          await child.stderr.cancel();
          assert.equal(status.code, 0);
          const ids = headers().map((match) => match[2]);
          assert.equal(new Set(ids).size, ids.length, "each trace printed once");
        },
      );

      await t.step("bad options and an absent console are said, with exit codes", async () => {
        const bad = await traces(["--limit", "none"]).output();
        assert.equal(bad.code, 2);
        assert.match(new TextDecoder().decode(bad.stderr), /--limit "none" must be a number/);
        const absent = await traces(["--url", "http://127.0.0.1:9"]).output();
        assert.equal(absent.code, 1);
        assert.match(
          new TextDecoder().decode(absent.stderr),
          /cannot reach the console at http:\/\/127\.0\.0\.1:9/,
        );
      });
    } finally {
      await test.stop();
    }
  },
});

Deno.test({
  name: "deno task traces --follow waits for a console that restarts, then goes on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const store = new ConsoleStore({ notifyDelayMs: 10 });
    const recorded = new FixtureReader({ ticks: 2 });
    const port = await freePort();
    let server = serveConsole({ store, hostname: "127.0.0.1", port });
    const child = traces(["--url", server.url, "--follow", "--settle-ms", "100"]).spawn();
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stdout = "";
    let stderr = "";
    const read = async (
      reader: ReadableStreamDefaultReader<string>,
      append: (text: string) => void,
      done: () => boolean,
      what: string,
    ) => {
      const until = Date.now() + 15_000;
      while (!done()) {
        assert.ok(Date.now() < until, `timed out waiting for ${what}`);
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`the command ended before ${what}`);
        append(value);
      }
    };
    const add = (traceId: string) => {
      for (const span of recorded.spans.filter((s) => s.traceId === traceId)) store.addSpan(span);
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 800)); // connected to the events
      const [first, second] = [...new Set(recorded.spans.map((span) => span.traceId))];
      add(first);
      await read(out, (t) => stdout += t, () => stdout.includes(first), "the first trace");

      const stopping = Date.now();
      await server.stop();
      assert.ok(Date.now() - stopping < 2000, "stopping does not wait for open event streams");
      await read(
        err,
        (t) => stderr += t,
        () => /waiting for it to come back/.test(stderr),
        "the warning",
      );
      server = serveConsole({ store, hostname: "127.0.0.1", port });
      await new Promise((resolve) => setTimeout(resolve, 1500)); // reconnected
      add(second);
      await read(
        out,
        (t) => stdout += t,
        () => stdout.includes(second),
        "the trace after the restart",
      );
    } finally {
      child.kill("SIGINT");
      await child.status;
      out.releaseLock();
      err.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
      await server.stop();
      store.close();
    }
  },
});

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await Promise.resolve();
  return port;
}
