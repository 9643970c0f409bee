/**
 * One colour per service, the same in the console's pages, its waterfalls, the terminal's trace
 * trees and the pretty log lines. The services a host runs take the palette in the order the
 * application declares them ({@linkcode declareServices}); a service known only from OTLP hashes
 * into the rest of it, so its colour is stable too.
 *
 * @example
 * ```ts
 * import { declareServices, serviceColor, serviceRank } from "./service_colors.ts";
 * declareServices(["caller", "callee"]);
 * console.log(serviceRank("callee"), serviceColor("caller").hex); // 1 "#7c6cd8"
 * ```
 * @module
 */

/** A colour for pages (`hex`) and for 256-colour terminals (`ansi`). */
export interface ServiceColor {
  readonly hex: string;
  readonly ansi: number;
}

const PALETTE: readonly ServiceColor[] = [
  { hex: "#7c6cd8", ansi: 141 }, // violet
  { hex: "#2f8fdc", ansi: 39 }, // blue
  { hex: "#1aa39a", ansi: 37 }, // teal
  { hex: "#d9822b", ansi: 173 }, // orange
  { hex: "#c2528b", ansi: 168 }, // magenta
  { hex: "#5f9e3a", ansi: 71 }, // green
  { hex: "#b8a02a", ansi: 142 }, // ochre
  { hex: "#5b6ee1", ansi: 62 }, // indigo
  { hex: "#c0563a", ansi: 131 }, // brick
  { hex: "#3d9fc0", ansi: 38 }, // cyan
];

let declared: readonly string[] = [];

/**
 * Names the services of this process's application, in the order people read them (callers
 * before what they call); colours and lists follow it.
 */
export function declareServices(names: readonly string[]): void {
  declared = [...names];
}

/** A declared service's place in the order, or -1. */
export function serviceRank(service: string): number {
  return declared.indexOf(service);
}

/** The colour of `service`. */
export function serviceColor(service: string): ServiceColor {
  const rank = declared.indexOf(service);
  if (rank !== -1) return PALETTE[rank % PALETTE.length];
  const reserved = Math.min(declared.length, PALETTE.length - 1);
  let hash = 0;
  for (const char of service) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[reserved + (hash % (PALETTE.length - reserved))];
}
