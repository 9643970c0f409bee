/**
 * `deno task flags`: lists and switches the fault flags in `FLAGS_FILE` (default `flags.json`)
 * from the terminal. It rewrites the file the same atomic way `PUT /api/flags/:name` does, so a
 * running host picks the change up within a second.
 *
 * @example
 * ```sh
 * deno task flags                          # every flag, its variant and value
 * deno task flags app3StoreFailure 50%     # half of app3's stores fail from now on
 * deno task flags off                      # every flag back to "off"
 * ```
 * @module
 */
import type { FlagView } from "./definitions.ts";
import { FlagChangeError, FlagSource } from "./source.ts";

const USAGE = `usage: deno task flags [<flag> [<variant>] | off]
  (none)              list every flag with its variant, value and variants
  <flag>              show one flag
  <flag> <variant>    switch the flag to that variant
  off                 switch every flag to its "off" variant
The file is FLAGS_FILE (default flags.json); a running host applies a change within a second.`;

/** Runs the command; returns the exit code. */
export async function main(args: readonly string[], env = Deno.env.toObject()): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  if (args.length > 2) {
    console.error(USAGE);
    return 2;
  }
  const quiet = { info() {}, warn() {}, error() {} };
  const source = await FlagSource.open(env.FLAGS_FILE ?? "flags.json", { log: quiet });
  try {
    const { file, error } = source.status();
    if (error !== null) {
      console.error(error);
      return 1;
    }
    const [name, variant] = args;
    if (name === undefined) {
      console.log(table(source.flags()));
      console.log(`\n${file}`);
      return 0;
    }
    if (name === "off" && variant === undefined) {
      for (const flag of source.flags()) {
        if (flag.variant === "off" || !flag.variants.some((v) => v.name === "off")) continue;
        await source.setVariant(flag.name, "off");
      }
      console.log(table(source.flags()));
      return 0;
    }
    if (variant === undefined) {
      const flag = source.flags().find((candidate) => candidate.name === name);
      if (flag === undefined) {
        console.error(`no flag named ${JSON.stringify(name)}; run deno task flags to list them`);
        return 1;
      }
      console.log(`${table([flag])}\n\n${flag.description}`);
      return 0;
    }
    const flag = await source.setVariant(name, variant);
    console.log(`${flag.name} is now ${flag.variant} (${JSON.stringify(flag.value)}) in ${file}`);
    return 0;
  } catch (error) {
    if (!(error instanceof FlagChangeError)) throw error;
    console.error(error.message);
    return 1;
  } finally {
    source.close();
  }
}

/** Flags as aligned columns: name, variant in force, value, every variant. */
function table(flags: readonly FlagView[]): string {
  const rows = [
    ["FLAG", "VARIANT", "VALUE", "VARIANTS"],
    ...flags.map((flag) => [
      flag.name,
      flag.variant ?? "(disabled)",
      JSON.stringify(flag.value),
      flag.variants.map((v) => v.name).join(" "),
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
