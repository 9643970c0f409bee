/**
 * Switching a fault flag by rewriting its flag file, as an editor's save or `deno task flags`
 * does: the new text goes to a temporary file beside it, renamed over the file, so the host's
 * watcher never reads half a file (a plain rewrite can be read truncated, which the host rightly
 * reports as a flag-file problem).
 *
 * @example
 * ```ts
 * import { setFlagInFile } from "./flag_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.copyFile(new URL("../flags.json", import.meta.url), `${dir}/flags.json`);
 * await setFlagInFile(`${dir}/flags.json`, "app1SlowMs", "250ms");
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
import { withVariant } from "../runtime/flags/definitions.ts";
import { replaceFile } from "../runtime/flags/source.ts";

/** Sets `flag` to `variant` in the flagd file `file`, replacing the file atomically. */
export async function setFlagInFile(file: string, flag: string, variant: string): Promise<void> {
  const changed = withVariant(await Deno.readTextFile(file), flag, variant);
  if (!changed.ok) throw new Error(changed.error);
  await replaceFile(file, changed.text);
}
