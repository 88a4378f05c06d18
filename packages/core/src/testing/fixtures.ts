/**
 * Paths and readers for the read-only golden fixtures in ../shared (beside the repository root).
 * Test helpers, exported as `@ortrl/core/testing` (not from the package index).
 *
 * SHARED_DIR is the one definition of where the shared fixtures are: core's tests import it from here,
 * and so do the other packages' tests, test/helpers and the example plugin's tests (by relative path).
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { SafetensorsFile } from "../io/safetensors.js";

/**
 * Absolute path of the shared fixtures folder, ending with a path separator: $ORTRL_SHARED when set
 * (relative paths resolved against the working directory), else `shared/` beside the repository root
 * (found from this module's location, so it works from the sources and from the build).
 */
export const SHARED_DIR = sharedDir(process.env.ORTRL_SHARED);

function sharedDir(override: string | undefined): string {
  const dir = override ? resolve(override) : join(repositoryRoot(dirname(fileURLToPath(import.meta.url))), "..", "shared");
  return dir.endsWith(sep) ? dir : dir + sep;
}

/** The ortrl repository holding this module (its source or its build): the nearest folder above with a package.json that declares workspaces; else the working directory. */
function repositoryRoot(from: string): string {
  for (let d = from; dirname(d) !== d; d = dirname(d)) {
    try {
      if (JSON.parse(readFileSync(join(d, "package.json"), "utf8")).workspaces) return d;
    } catch {
      // no package.json here
    }
  }
  return process.cwd();
}

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
