/**
 * The fault flags module: the committed flags.json, parsing and its error messages, the file
 * source (reload within a second, last good flags kept, atomic writes), the OpenFeature provider
 * and the `feature_flag.evaluation` span events, and the JSON API.
 */
import assert from "node:assert/strict";
import { context, trace } from "@opentelemetry/api";
import { waitFor } from "../../testing/wait.ts";
import { memoryTracer } from "../_test_util.ts";
import { type FlagView, parseFlagFile, withVariant } from "./definitions.ts";
import { flagRoutes, PROVIDER_NAME, startFlags } from "./mod.ts";
import { FlagSource } from "./source.ts";

const CONTRACT_FLAGS = [
  "app3StoreFailure",
  "app3PublishFailure",
  "app1SlowMs",
  "app2ConsumeDelayMs",
  "app4CacheFailure",
  "executorBurst",
];

const repoFlags = () => Deno.readTextFile(new URL("../../flags.json", import.meta.url));

/** A log that keeps what it was told. */
function memoryLog() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) =>
    lines.push({ level, message, fields });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

async function tempFlags(text?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flags-test-" });
  const file = `${dir}/flags.json`;
  await Deno.writeTextFile(file, text ?? await repoFlags());
  return file;
}

Deno.test("flags.json: the contract's flags, each off, described, with an off variant", async () => {
  const parsed = parseFlagFile(await repoFlags());
  if (!parsed.ok) throw new Error(parsed.error);
  assert.deepEqual(parsed.flags.map((flag) => flag.name), CONTRACT_FLAGS);
  for (const flag of parsed.flags) {
    assert.equal(flag.variant, "off", `${flag.name} is off in the committed file`);
    assert.ok(flag.description.length > 20, `${flag.name} says what it does`);
    assert.equal(typeof flag.value, "number", `${flag.name} is a number flag`);
  }
  const value = (name: string) => parsed.flags.find((flag) => flag.name === name)?.value;
  assert.equal(value("executorBurst"), 1, "one call per tick when off");
  for (const share of ["app3StoreFailure", "app3PublishFailure", "app4CacheFailure"]) {
    const variants: FlagView["variants"] = parsed.flags.find((flag) => flag.name === share)!
      .variants;
    assert.ok(variants.every((v) => typeof v.value === "number" && v.value >= 0 && v.value <= 1));
    assert.deepEqual(variants.find((v) => v.name === "100%")?.value, 1);
  }
  // What the API writes is what `deno fmt` keeps: switching a flag leaves no formatting diff.
  const text = await repoFlags();
  assert.equal(`${JSON.stringify(JSON.parse(text), null, 2)}\n`, text);
});

Deno.test("parseFlagFile says what is wrong and where", () => {
  const flag = (fields: Record<string, unknown>) =>
    JSON.stringify({
      flags: {
        a: { state: "ENABLED", variants: { off: 0, on: 1 }, defaultVariant: "off", ...fields },
      },
    });
  const cases: Array<[string, RegExp]> = [
    ["{", /not valid JSON/],
    ["[]", /needs a "flags" object/],
    [JSON.stringify({ flags: [] }), /needs a "flags" object/],
    [
      flag({ defaultVariant: "of" }),
      /\/flags\/a\/defaultVariant "of" is not one of its variants \(off, on\)/,
    ],
    [flag({ variants: { off: 0, on: "1" } }), /\/flags\/a\/variants mixes number and string/],
    [flag({ state: "ON" }), /\/flags\/a\/state must be equal to one of the allowed values/],
    [
      flag({ targeting: { nope: [1] } }),
      /\/flags\/a\/targeting must NOT have additional properties \(nope\)/,
    ],
  ];
  for (const [text, expected] of cases) {
    const parsed = parseFlagFile(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.match(parsed.error, expected);
  }
  const parsed = parseFlagFile(flag({ state: "DISABLED", defaultVariant: "on" }));
  assert.ok(parsed.ok);
  assert.equal(parsed.flags[0].variant, null, "a disabled flag has no variant in force");
  assert.equal(parsed.flags[0].value, null);
});

Deno.test("withVariant changes one flag, enables it, keeps the rest, refuses bad input", async () => {
  const text = await repoFlags();
  const changed = withVariant(text, "app3StoreFailure", "50%");
  assert.ok(changed.ok);
  assert.equal(changed.flag.value, 0.5);
  const before = JSON.parse(text);
  const after = JSON.parse(changed.text);
  before.flags.app3StoreFailure.defaultVariant = "50%";
  assert.deepEqual(after, before);
  const disabled = text.replace('"state": "ENABLED"', '"state": "DISABLED"');
  const enabled = withVariant(disabled, "app3StoreFailure", "10%");
  assert.ok(enabled.ok && enabled.flag.state === "ENABLED" && enabled.flag.value === 0.1);

  const unknownFlag = withVariant(text, "nope", "on");
  assert.ok(!unknownFlag.ok && unknownFlag.status === 404);
  assert.match(unknownFlag.error, /no flag named "nope"; flags: app3StoreFailure, /);
  const unknownVariant = withVariant(text, "app1SlowMs", "3s");
  assert.ok(!unknownVariant.ok && unknownVariant.status === 400);
  assert.match(unknownVariant.error, /app1SlowMs has no variant "3s"; variants: off, 250ms, 1s/);
  const broken = withVariant("{", "app1SlowMs", "1s");
  assert.ok(!broken.ok && broken.status === 409);
});

Deno.test("FlagSource: an edit is in force within a second; a broken file keeps the last good flags", async () => {
  const file = await tempFlags();
  const log = memoryLog();
  const source = await FlagSource.open(file, { log });
  const changes: string[][] = [];
  source.onChange((names) => changes.push(names));
  try {
    const current = (name: string) => source.flags().find((flag) => flag.name === name)?.value;
    assert.equal(current("app1SlowMs"), 0);
    assert.equal(source.status().error, null);

    const edited = (await Deno.readTextFile(file)).replace(
      /("app1SlowMs": \{[\s\S]*?"defaultVariant": )"off"/,
      '$1"2s"',
    );
    const started = performance.now();
    await Deno.writeTextFile(file, edited);
    await waitFor("app1SlowMs = 2s in force", () => current("app1SlowMs") === 2000, 1000);
    assert.ok(performance.now() - started < 1000, "reloaded within a second");
    assert.deepEqual(changes, [["app1SlowMs"]]);
    assert.ok(
      log.lines.some((line) =>
        line.message === "flag changed" && line.fields.flag === "app1SlowMs" &&
        line.fields.value === 2000
      ),
    );

    await Deno.writeTextFile(
      file,
      edited.replace('"defaultVariant": "2s"', '"defaultVariant": "3s"'),
    );
    await waitFor("the file reported invalid", () => source.status().error !== null, 1000);
    assert.match(source.status().error!, /defaultVariant "3s" is not one of its variants/);
    assert.equal(current("app1SlowMs"), 2000, "the last good flags stay in force");
    const warning = log.lines.find((line) => line.level === "warn");
    assert.equal(warning?.message, "flag file not usable; keeping the last good flags");
    assert.match(String(warning?.fields.error), /"3s" is not one of its variants/);

    await Deno.remove(file);
    await waitFor(
      "the file reported missing",
      () => /does not exist/.test(source.status().error ?? ""),
      1000,
    );
    assert.equal(current("app1SlowMs"), 2000);

    await Deno.writeTextFile(file, await repoFlags());
    await waitFor("the file in force again", () => source.status().error === null, 1000);
    assert.equal(current("app1SlowMs"), 0);
    assert.ok(log.lines.some((line) => line.message === "flag file is valid again"));
  } finally {
    source.close();
  }
});

Deno.test("FlagSource: a missing file at start means every flag off, and a warning", async () => {
  const dir = await Deno.makeTempDir();
  const log = memoryLog();
  const source = await FlagSource.open(`${dir}/absent.json`, { log });
  try {
    assert.deepEqual(source.flags(), []);
    assert.equal(source.status().loadedAt, null);
    assert.equal(log.lines[0].message, "flag file not usable; every flag is off until it is");
    await assert.rejects(source.setVariant("app1SlowMs", "1s"), { status: 409 });
    await Deno.writeTextFile(`${dir}/absent.json`, await repoFlags());
    await waitFor(
      "the new file loaded",
      () => source.flags().length === CONTRACT_FLAGS.length,
      1000,
    );
  } finally {
    source.close();
  }
});

Deno.test("FlagSource.setVariant rewrites the file atomically: file, source and API agree", async () => {
  const file = await tempFlags();
  const source = await FlagSource.open(file, { log: memoryLog() });
  try {
    const flag = await source.setVariant("app4CacheFailure", "25%");
    assert.equal(flag.value, 0.25);
    const onDisk = parseFlagFile(await Deno.readTextFile(file));
    assert.ok(onDisk.ok);
    assert.deepEqual(onDisk.flags, source.flags());
    const left = [...Deno.readDirSync(file.slice(0, file.lastIndexOf("/")))].map((e) => e.name);
    assert.deepEqual(left, ["flags.json"], "no temporary file is left behind");
    // Many writes at once are applied one after another; the last one wins everywhere.
    const variants = ["off", "10%", "50%", "75%", "100%"];
    await Promise.all(variants.map((variant) => source.setVariant("app3StoreFailure", variant)));
    const final = parseFlagFile(await Deno.readTextFile(file));
    assert.ok(final.ok);
    const inFile = final.flags.find((f) => f.name === "app3StoreFailure");
    assert.equal(inFile?.variant, "100%");
    assert.equal(source.flags().find((f) => f.name === "app3StoreFailure")?.variant, "100%");
  } finally {
    source.close();
  }
});

Deno.test("function flags: OpenFeature evaluation, feature_flag.evaluation on the active span when on", async () => {
  const file = await tempFlags();
  const log = memoryLog();
  const flags = await startFlags(file, log);
  const { tracer, spans } = memoryTracer();
  try {
    const app3 = flags.forService("app3", log);
    const evaluate = (name: string, key: string) => {
      const span = tracer.startSpan(name);
      return context.with(trace.setSpan(context.active(), span), async () => {
        try {
          return await app3.number(key);
        } finally {
          span.end();
        }
      });
    };
    assert.equal(await evaluate("off", "app3StoreFailure"), 0);
    await flags.source.setVariant("app3StoreFailure", "75%");
    assert.equal(await evaluate("on", "app3StoreFailure"), 0.75);
    assert.equal(await evaluate("unknown", "noSuchFlag"), 0);

    const byName = (name: string) => spans().find((span) => span.name === name)!;
    assert.deepEqual(byName("off").events, [], "an evaluation that is off adds nothing");
    assert.deepEqual(byName("unknown").events, []);
    const [event] = byName("on").events;
    assert.equal(event.name, "feature_flag.evaluation");
    assert.deepEqual(event.attributes, {
      "feature_flag.key": "app3StoreFailure",
      "feature_flag.provider.name": PROVIDER_NAME,
      "feature_flag.result.reason": "static",
      "feature_flag.result.variant": "75%",
      "feature_flag.result.value": 0.75,
      "feature_flag.set.id": "fault-flags",
    });
    const warnings = log.lines.filter((line) => line.level === "warn");
    assert.equal(warnings.length, 1, "an unknown flag is reported once");
    assert.equal(warnings[0].fields.flag, "noSuchFlag");
    assert.equal(warnings[0].fields.error_type, "flag_not_found");
    await app3.number("noSuchFlag");
    assert.equal(log.lines.filter((line) => line.level === "warn").length, 1);
  } finally {
    await flags.close();
  }
});

Deno.test("function flags: targeting sees the service; hosts in one process keep their own flags", async () => {
  const targeted = JSON.stringify({
    flags: {
      app1SlowMs: {
        state: "ENABLED",
        variants: { off: 0, slow: 300 },
        defaultVariant: "off",
        targeting: { if: [{ "==": [{ var: "service" }, "app1"] }, "slow", "off"] },
      },
    },
  });
  const first = await startFlags(await tempFlags(targeted), memoryLog());
  const second = await startFlags(await tempFlags(), memoryLog());
  try {
    assert.equal(await first.forService("app1", memoryLog()).number("app1SlowMs"), 300);
    assert.equal(await first.forService("app3", memoryLog()).number("app1SlowMs"), 0);
    assert.equal(await second.forService("app1", memoryLog()).number("app1SlowMs"), 0);
    assert.equal(first.source.flags()[0].targeting, true);
  } finally {
    await first.close();
    await second.close();
  }
  assert.equal(
    await first.forService("app1", memoryLog()).number("app1SlowMs"),
    0,
    "a closed host's flags are off",
  );
});

Deno.test("GET /api/flags and PUT /api/flags/:name", async () => {
  const file = await tempFlags();
  const source = await FlagSource.open(file, { log: memoryLog() });
  const app = flagRoutes(source);
  const put = (name: string, body: string, type = "application/json") =>
    app.request(`/api/flags/${name}`, {
      method: "PUT",
      headers: { "content-type": type },
      body,
    });
  try {
    const listed = await (await app.request("/api/flags")).json();
    assert.deepEqual(listed.flags.map((f: { name: string }) => f.name), CONTRACT_FLAGS);
    assert.equal(listed.file, file);
    assert.equal(listed.error, null);
    assert.deepEqual(Object.keys(listed.flags[0]).sort(), [
      "defaultVariant",
      "description",
      "name",
      "state",
      "targeting",
      "value",
      "variant",
      "variants",
    ]);

    const ok = await put("app2ConsumeDelayMs", JSON.stringify({ variant: "500ms" }));
    assert.equal(ok.status, 200);
    const flag = await ok.json();
    assert.equal(flag.variant, "500ms");
    assert.equal(flag.value, 500);
    const after = await (await app.request("/api/flags")).json();
    assert.equal(
      after.flags.find((f: { name: string }) => f.name === "app2ConsumeDelayMs").value,
      500,
    );
    assert.match(await Deno.readTextFile(file), /"defaultVariant": "500ms"/);

    const refused: Array<[Response, number, RegExp]> = [
      [await put("nope", '{"variant":"on"}'), 404, /no flag named "nope"/],
      [await put("app1SlowMs", '{"variant":"9s"}'), 400, /has no variant "9s"/],
      [await put("app1SlowMs", "{"), 400, /not valid JSON/],
      [await put("app1SlowMs", "[]"), 400, /JSON object/],
      [await put("app1SlowMs", "{}"), 400, /"variant" is required/],
      [await put("app1SlowMs", '{"variant":1}'), 400, /"variant" must be/],
      [await put("app1SlowMs", '{"variant":"1s","x":1}'), 400, /unknown field "x"/],
      [await put("app1SlowMs", '{"variant":"1s"}', "text/plain"), 415, /application\/json/],
      [await put("app1SlowMs", JSON.stringify({ variant: "x".repeat(5000) })), 413, /exceeds/],
    ];
    for (const [response, status, error] of refused) {
      assert.equal(response.status, status);
      assert.match((await response.json()).error, error);
    }

    await Deno.writeTextFile(file, "{ broken");
    await waitFor("the file reported invalid", () => source.status().error !== null, 1000);
    const conflict = await put("app1SlowMs", '{"variant":"1s"}');
    assert.equal(conflict.status, 409);
    assert.match((await conflict.json()).error, /flag file is invalid .*not valid JSON/);
    const broken = await (await app.request("/api/flags")).json();
    assert.match(broken.error, /not valid JSON/);
    assert.equal(broken.flags.length, CONTRACT_FLAGS.length, "the last good flags are listed");
  } finally {
    source.close();
  }
});
