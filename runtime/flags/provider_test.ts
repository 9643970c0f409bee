import assert from "node:assert/strict";
import { ErrorCode, OpenFeature } from "@openfeature/server-sdk";
import { FlagdFileProvider, PROVIDER_NAME } from "./provider.ts";
import { FlagSource } from "./source.ts";

Deno.test("FlagdFileProvider: boolean, string, number and object flags; a type mismatch is the default", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  const flag = (variants: Record<string, unknown>, defaultVariant: string) => ({
    state: "ENABLED",
    variants,
    defaultVariant,
  });
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      flags: {
        on: flag({ yes: true, no: false }, "yes"),
        colour: flag({ red: "red", blue: "blue" }, "blue"),
        delay: flag({ off: 0, slow: 250 }, "slow"),
        limits: flag({ small: { max: 1 }, large: { max: 9 } }, "large"),
      },
    }),
  );
  const source = await FlagSource.open(file, { log: console });
  try {
    await OpenFeature.setProviderAndWait("provider-test", new FlagdFileProvider(source));
    const client = OpenFeature.getClient("provider-test");
    assert.equal(client.metadata.providerMetadata.name, PROVIDER_NAME);
    const on = await client.getBooleanDetails("on", false);
    assert.deepEqual([on.value, on.variant, on.reason], [true, "yes", "STATIC"]);
    assert.equal(await client.getStringValue("colour", "none"), "blue");
    assert.equal(await client.getNumberValue("delay", 0), 250);
    assert.deepEqual(await client.getObjectValue("limits", {}), { max: 9 });
    const mismatch = await client.getBooleanDetails("delay", false);
    assert.equal(mismatch.value, false);
    assert.equal(mismatch.errorCode, ErrorCode.TYPE_MISMATCH);
  } finally {
    await OpenFeature.clearProviders();
    source.close();
    await Deno.remove(file);
  }
});
