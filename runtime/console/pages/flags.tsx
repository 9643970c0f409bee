/**
 * The fault-flags panel of the Functions page: every flag with the variant in force and a button
 * per variant; pressing one sends `PUT /api/flags/:name` (console.js), which rewrites the flag file.
 * @module
 */
import type { Child } from "hono/jsx";
import type { FlagView } from "../../flags/definitions.ts";
import type { FlagSource } from "../../flags/source.ts";

/** The panel over `source`, rendered afresh on every page refresh. */
export function flagsPanel(source: FlagSource): () => Child {
  return () => (
    <FlagsPanel flags={source.flags()} file={source.status().file} error={source.status().error} />
  );
}

/** The panel's markup. */
export function FlagsPanel(
  props: { flags: readonly FlagView[]; file: string; error: string | null },
) {
  const on = props.flags.filter((flag) => flag.variant !== null && flag.variant !== "off");
  return (
    <div class="card flags-panel">
      <h2>
        Fault flags{" "}
        <span class={on.length > 0 ? "badge bad" : "badge"}>
          {on.length > 0 ? `${on.length} on` : "all off"}
        </span>
      </h2>
      {props.error
        ? (
          <p class="flag-error small" role="alert">
            {props.error} · the last good flags stay in force
          </p>
        )
        : null}
      {props.flags.length === 0
        ? <p class="muted small">No flags in {props.file}.</p>
        : (
          <ul class="flag-list">
            {props.flags.map((flag) => (
              <li
                data-flag={flag.name}
                class={flag.variant !== null && flag.variant !== "off" ? "on" : ""}
              >
                <div class="flag-head" title={flag.description}>
                  <span class="mono">{flag.name}</span>
                  <span class="mono small flag-value">{JSON.stringify(flag.value)}</span>
                </div>
                <form class="flag-form" data-flag={flag.name}>
                  {flag.variants.map((variant) => (
                    <button
                      type="submit"
                      name="variant"
                      value={variant.name}
                      class={variant.name === flag.variant ? "variant current" : "variant"}
                      aria-pressed={variant.name === flag.variant ? "true" : "false"}
                      title={`${flag.name} = ${JSON.stringify(variant.value)}`}
                    >
                      {variant.name}
                    </button>
                  ))}
                  <output class="result small" aria-live="polite"></output>
                </form>
                <p class="muted small flag-desc">{flag.description}</p>
              </li>
            ))}
          </ul>
        )}
      <p class="muted small">
        From <code>{props.file.split("/").pop()}</code>{" "}
        (<code>FLAGS_FILE</code>); spans where a flag acted carry a{" "}
        <code>feature_flag.evaluation</code> event.
      </p>
    </div>
  );
}
