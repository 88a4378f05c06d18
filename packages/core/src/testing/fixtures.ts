/**
 * Paths and readers for the read-only golden fixtures in ../shared (beside the repository root).
 * Test-only helpers; not exported from the package index.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SafetensorsFile } from "../io/safetensors.js";

/** Absolute path of the shared folder (ends with a slash). Override with ORTRL_SHARED. */
export const SHARED_DIR = process.env.ORTRL_SHARED ?? fileURLToPath(new URL("../../../../../shared/", import.meta.url));

export const TINY_LLAMA_DIR = `${SHARED_DIR}fixtures/tiny-llama/`;
export const STORIES_DIR = `${SHARED_DIR}models/stories260K-hf`;

/** expected.json of a fixture folder. */
export function readExpectedJson(fixture: "tiny-llama" | "stories260K"): Record<string, any> {
  return JSON.parse(readFileSync(`${SHARED_DIR}fixtures/${fixture}/expected.json`, "utf8"));
}

/** Opens a fixture safetensors file (caller closes). */
export function openFixtureTensors(fixture: "tiny-llama" | "stories260K", file = "expected.safetensors"): SafetensorsFile {
  return SafetensorsFile.open(`${SHARED_DIR}fixtures/${fixture}/${file}`);
}

/**
 * Element-wise comparison |got - want| <= atol + rtol * |want|; returns a description of the worst
 * violation, or null when all pass.
 */
export function compareArrays(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, where?: (i: number) => boolean): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < got.length; i++) {
    if (where && !where(i)) continue;
    const excess = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  return worst < 0 ? null : `element ${worst}: got ${got[worst]}, want ${want[worst]} (rtol ${rtol}, atol ${atol})`;
}
