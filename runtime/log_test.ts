import { serviceColor } from "./service_colors.ts";
import assert from "node:assert/strict";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { memoryTracer } from "./_test_util.ts";
import type { LogLevel } from "./config.ts";
import { createLogger, formatPretty, isoTime, type LogRecord } from "./log.ts";

function capture(level: LogLevel = "debug", service = "app1") {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const log = createLogger({
    service,
    level,
    write: (line) => lines.push(line),
    sink: (record) => records.push(record),
  });
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, lines, records, parsed };
}

Deno.test("createLogger: one JSON object per line with time, level, service, message, fields", () => {
  const { log, lines, parsed } = capture("debug", "app3");
  const before = Date.now();
  log.info("message stored", { message_id: "0b6f", attempt: 2, ok: true, nested: { a: [1] } });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("\n"), "a record is a single line");
  const [record] = parsed();
  assert.deepEqual(Object.keys(record), [
    "time",
    "level",
    "service",
    "message",
    "message_id",
    "attempt",
    "ok",
    "nested",
  ]);
  assert.equal(record.level, "info");
  assert.equal(record.service, "app3");
  assert.equal(record.message, "message stored");
  assert.equal(record.message_id, "0b6f");
  assert.equal(record.attempt, 2);
  assert.equal(record.ok, true);
  assert.deepEqual(record.nested, { a: [1] });
  const time = Date.parse(record.time as string);
  assert.match(record.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(time >= before - 1 && time <= Date.now() + 1);
});

Deno.test("createLogger: each method writes its own level", () => {
  const { log, parsed } = capture("debug");
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(parsed().map((record) => [record.level, record.message]), [
    ["debug", "d"],
    ["info", "i"],
    ["warn", "w"],
    ["error", "e"],
  ]);
});

Deno.test("createLogger: records below the level are neither written nor sunk", () => {
  const cases: Array<[LogLevel, string[]]> = [
    ["debug", ["debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
  ];
  for (const [level, expected] of cases) {
    const { log, parsed, records } = capture(level);
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(parsed().map((record) => record.level), expected, `level ${level}`);
    assert.deepEqual(records.map((record) => record.level), expected, `sink at level ${level}`);
  }
});

Deno.test("createLogger: trace_id and span_id of the active span, none outside a span", () => {
  const { tracer } = memoryTracer();
  const { log, parsed } = capture();
  log.info("before");
  const span = tracer.startSpan("work");
  context.with(trace.setSpan(context.active(), span), () => log.info("inside"));
  span.end();
  log.info("after");
  const [before, inside, after] = parsed();
  assert.equal("trace_id" in before, false);
  assert.equal("span_id" in before, false);
  assert.equal(inside.trace_id, span.spanContext().traceId);
  assert.equal(inside.span_id, span.spanContext().spanId);
  assert.match(inside.trace_id as string, /^[0-9a-f]{32}$/);
  assert.match(inside.span_id as string, /^[0-9a-f]{16}$/);
  assert.equal("trace_id" in after, false);
});

Deno.test("createLogger: the span context follows async work (AsyncLocalStorage)", async () => {
  const { tracer } = memoryTracer();
  const { log, parsed } = capture();
  const ids: string[] = [];
  await Promise.all(["a", "b"].map((name) =>
    tracer.startActiveSpan(name, async (span) => {
      ids.push(span.spanContext().spanId);
      await new Promise((resolve) => setTimeout(resolve, name === "a" ? 20 : 1));
      log.info(name);
      span.end();
    })
  ));
  const byMessage = Object.fromEntries(parsed().map((record) => [record.message, record.span_id]));
  assert.equal(byMessage.a, ids[0]);
  assert.equal(byMessage.b, ids[1]);
  assert.notEqual(ids[0], ids[1]);
  context.with(ROOT_CONTEXT, () => log.info("root"));
  assert.equal(parsed().at(-1)?.span_id, undefined);
});

Deno.test("createLogger: errors become {type, message}, without stack or cause", () => {
  const { log, parsed, records } = capture();
  const error = new TypeError("bad input", { cause: new Error("secret cause") });
  class CustomError extends Error {
    override name = "CustomError";
  }
  log.error("failed", { error, other: new CustomError("x".repeat(600)), plain: "text" });
  const [record] = parsed();
  assert.deepEqual(record.error, { type: "TypeError", message: "bad input" });
  const other = record.other as { type: string; message: string };
  assert.equal(other.type, "CustomError");
  assert.equal(other.message.length, 500);
  assert.equal(record.plain, "text");
  assert.ok(!JSON.stringify(record).includes("secret cause"));
  assert.ok(!JSON.stringify(record).includes("stack"));
  assert.deepEqual(records[0].error, { type: "TypeError", message: "bad input" });
});

Deno.test("createLogger: the sink receives the same record that was written", () => {
  const { tracer } = memoryTracer();
  const { log, lines, records } = capture("info");
  tracer.startActiveSpan("op", (span) => {
    log.warn("slow", { ms: 1200 });
    span.end();
  });
  assert.equal(records.length, 1);
  assert.deepEqual(records[0], JSON.parse(lines[0]));
  assert.equal(records[0].trace_id !== undefined, true);
});

Deno.test("createLogger: without a sink it only writes", () => {
  const lines: string[] = [];
  const log = createLogger({ service: "host", level: "info", write: (line) => lines.push(line) });
  log.info("ready");
  assert.equal(JSON.parse(lines[0]).service, "host");
});

Deno.test({
  name: "createLogger: fields cannot overwrite time, level, service, message or trace ids",
  fn: () => {
    const { tracer } = memoryTracer();
    const { log, parsed } = capture("info", "app4");
    tracer.startActiveSpan("op", (span) => {
      log.info("real message", {
        level: "debug",
        service: "someone-else",
        message: "overwritten",
        time: "yesterday",
        trace_id: "0".repeat(32),
      });
      span.end();
    });
    const [record] = parsed();
    assert.equal(record.level, "info");
    assert.equal(record.service, "app4");
    assert.equal(record.message, "real message");
    assert.notEqual(record.time, "yesterday");
    assert.notEqual(record.trace_id, "0".repeat(32));
  },
});

Deno.test({
  name: "createLogger: a field JSON cannot encode (BigInt) does not make logging throw",
  fn: () => {
    const { log, parsed } = capture();
    assert.doesNotThrow(() => log.info("offset", { offset: 5n }));
    assert.equal(parsed()[0].message, "offset");
  },
});

/** Runs a script that logs through the default (stdout) writer; returns its stdout and status. */
async function runLogging(body: string, kill = false) {
  const script = `import { createLogger, writeStdout } from ${
    JSON.stringify(new URL("./log.ts", import.meta.url).href)
  };\nconst log = createLogger({ service: "t", level: "info" });\n${body}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  const decoder = new TextDecoder();
  if (kill) {
    // Wait for the line that says the script reached its point of no return, then SIGKILL.
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    child.kill("SIGKILL");
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  const status = await child.status;
  const messages = text.trim().split("\n").map((line) =>
    line.startsWith("{") ? JSON.parse(line).message : line
  );
  return { messages, code: status.code };
}

Deno.test("writeStdout: the lines of one turn reach stdout in order, and all of them at Deno.exit", async () => {
  const { messages, code } = await runLogging(
    `for (let i = 0; i < 3; i++) log.info("line " + i);\nDeno.exit(3);`,
  );
  assert.equal(code, 3);
  assert.deepEqual(messages, ["line 0", "line 1", "line 2"]);
});

Deno.test("writeStdout: queued lines go out on the next turn, and when the event loop ends", async () => {
  const { messages } = await runLogging(
    `log.info("first");\nawait new Promise((r) => setTimeout(r, 20));\nlog.info("last");`,
  );
  assert.deepEqual(messages, ["first", "last"]);
});

Deno.test("writeStdout: an error goes out at once with the lines before it, even if SIGKILL follows", async () => {
  const { messages, code } = await runLogging(
    `log.info("before");\nlog.error("failed");\nwriteStdout("ready", true);\n` +
      `log.info("never flushed");\nconst start = Date.now();\nwhile (Date.now() - start < 10_000) {}`,
    true,
  );
  assert.notEqual(code, 0);
  assert.deepEqual(messages, ["before", "failed", "ready"]);
});

Deno.test("writeStdout: past 64 KiB the queue is written without waiting for the next turn", async () => {
  const { messages } = await runLogging(
    `for (let i = 0; i < 200; i++) log.info("x".repeat(1000));\nwriteStdout("ready", true);\n` +
      `const start = Date.now();\nwhile (Date.now() - start < 10_000) {}`,
    true,
  );
  assert.equal(messages.length, 201);
});

Deno.test("writeStdout: a closed stdout loses lines, not the process", async () => {
  const script =
    `import { createLogger } from ${
      JSON.stringify(new URL("./log.ts", import.meta.url).href)
    };\nconst log = createLogger({ service: "t", level: "info" });\n` +
    `await new Promise((r) => setTimeout(r, 200));\nlog.info("into a closed pipe");\n` +
    `log.error("again, at once");\nawait new Promise((r) => setTimeout(r, 50));\nDeno.exit(7);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await child.stdout.cancel();
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(status.code, 7, stderr);
});

const RECORD: LogRecord = {
  time: "2026-11-30T09:05:07.042Z",
  level: "info",
  service: "app3",
  message: "message stored",
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  span_id: "00f067aa0ba902b7",
  message_id: "0b6f1c2e",
  topic: "Purchase",
};

/** `2026-11-30T09:05:07.042Z` on this machine's clock. */
function localClock(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${
    p(d.getMilliseconds(), 3)
  }`;
}

Deno.test("formatPretty: time, level, service, short trace id, message, fields on one line", () => {
  assert.equal(
    formatPretty(RECORD, { color: false }),
    `${
      localClock(RECORD.time)
    } INFO  app3     4bf92f35 message stored message_id=0b6f1c2e topic=Purchase`,
  );
  const noTrace = formatPretty({ ...RECORD, trace_id: undefined, span_id: undefined }, {
    color: false,
  });
  assert.equal(
    noTrace,
    `${
      localClock(RECORD.time)
    } INFO  app3              message stored message_id=0b6f1c2e topic=Purchase`,
  );
});

Deno.test("formatPretty: quotes what would be ambiguous, flattens objects, keeps numbers", () => {
  const line = formatPretty({
    time: RECORD.time,
    level: "error",
    service: "app1",
    message: "call failed",
    error: { type: "TypeError", message: "fetch failed: connection refused" },
    attempt: 3,
    ok: false,
    path: "",
    list: [1, "a"],
    empty: {},
  }, { color: false });
  assert.ok(
    line.endsWith(
      ' call failed error.type=TypeError error.message="fetch failed: connection refused" attempt=3' +
        ' ok=false path="" list=[1,"a"] empty={}',
    ),
    line,
  );
  assert.ok(line.includes(" ERROR app1     "));
});

Deno.test("formatPretty: colours only when asked (NO_COLOR and pipes get none)", () => {
  const plain = formatPretty(RECORD, { color: false });
  const coloured = formatPretty(RECORD, { color: true });
  assert.ok(!plain.includes("\x1b"));
  assert.ok(coloured.includes("\x1b[32mINFO "), "the level in its colour");
  assert.ok(
    coloured.includes(`\x1b[38;5;${serviceColor("app3").ansi}mapp3`),
    "the service in its console colour",
  );
  // deno-lint-ignore no-control-regex
  assert.equal(coloured.replace(/\x1b\[[\d;]*m/g, ""), plain);
});

Deno.test("createLogger: format pretty writes readable lines; a caller's write gets JSON by default", () => {
  const pretty: string[] = [];
  createLogger({ service: "app4", level: "info", format: "pretty", write: (l) => pretty.push(l) })
    .info("message cached", { message_id: "m1" });
  assert.match(
    pretty[0],
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}app4 {5}\S* *message cached message_id=m1$/,
  );
  const json: string[] = [];
  createLogger({ service: "app4", level: "info", write: (l) => json.push(l) }).info("x");
  assert.equal(JSON.parse(json[0]).message, "x");
});

/** Runs a logger writing to the real stdout, piped or on a terminal (through `script`). */
async function stdoutOf(terminal: boolean, env: Record<string, string>): Promise<string> {
  const code = `import { createLogger, flushStdout } from ${
    JSON.stringify(import.meta.resolve("./log.ts"))
  };
const format = Deno.env.get("LOG_FORMAT");
createLogger({ service: "app1", level: "info", format: format === "json" || format === "pretty" ? format : "auto" }).info("hello", { n: 1 });
flushStdout();`;
  // The parent's NO_COLOR (CI sets it) must not decide the child's colours: only `env` does.
  const inherited = Deno.env.toObject();
  delete inherited.NO_COLOR;
  env = { ...inherited, ...env };
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  try {
    const deno = Deno.execPath();
    const config = new URL("../deno.json", import.meta.url).pathname;
    const command = terminal
      ? new Deno.Command("script", {
        args: ["-qec", `${deno} run -A --no-check --config ${config} ${file}`, "/dev/null"],
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      })
      : new Deno.Command(deno, {
        args: ["run", "-A", "--no-check", "--config", config, file],
        env,
        clearEnv: true,
        stdout: "piped",
      });
    const { stdout } = await command.output();
    return new TextDecoder().decode(stdout).replace(/\r/g, "").trim();
  } finally {
    await Deno.remove(file);
  }
}

const hasScript = (() => {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "stdout: JSON through a pipe, readable (and coloured unless NO_COLOR) on a terminal" +
    (hasScript ? "" : " [needs util-linux script for a terminal]"),
  ignore: !hasScript,
  fn: async () => {
    const piped = await stdoutOf(false, {});
    assert.equal(JSON.parse(piped).message, "hello");
    const tty = await stdoutOf(true, {});
    // deno-lint-ignore no-control-regex
    assert.match(tty.replace(/\x1b\[[\d;]*m/g, ""), /INFO {2}app1 {14}hello n=1$/);
    assert.ok(tty.includes("\x1b["), "coloured on a terminal");
    const noColor = await stdoutOf(true, { NO_COLOR: "1" });
    assert.match(noColor, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}app1 {14}hello n=1$/);
    const forcedJson = await stdoutOf(true, { LOG_FORMAT: "json" });
    assert.equal(JSON.parse(forcedJson).service, "app1");
    const forcedPretty = await stdoutOf(false, { LOG_FORMAT: "pretty", NO_COLOR: "1" });
    assert.match(forcedPretty, /INFO {2}app1 {14}hello n=1$/);
  },
});

Deno.test("isoTime: the same text as toISOString, across seconds, days and unusual years", () => {
  const times = [
    0,
    1,
    42,
    999,
    1000,
    -1,
    -999,
    -1001,
    Date.UTC(2026, 10, 30, 23, 59, 59, 999),
    Date.UTC(2026, 11, 1, 0, 0, 0, 0),
    Date.UTC(10000, 0, 1, 0, 0, 0, 7),
    Date.UTC(-1, 5, 1, 12, 0, 0, 70),
  ];
  const start = Date.UTC(2026, 10, 30, 9, 5, 7, 0);
  for (let ms = start - 2_500; ms < start + 2_500; ms += 7) times.push(ms);
  for (const ms of times) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
});
