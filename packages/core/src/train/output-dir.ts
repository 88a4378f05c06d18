/**
 * The output directory of a run, handled so that nothing a user has is destroyed before its
 * replacement is complete:
 * - a directory holding an earlier run is refused unless `overwrite`; then the earlier run's files are
 *   moved aside into `ortrl-previous-run-N/` inside it (a rename: nothing is copied or deleted) and
 *   removed only when the new run completes ({@link completeOutputDir}); a run that fails or is
 *   interrupted leaves them where the warning said;
 * - an output directory that is, or contains, an input (the model or adapter being trained) is refused.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { withFsContext } from "../io/fs-errors.js";

/** A problem with the output directory the caller can fix by choosing other options (a usage error). */
export class OutputDirError extends Error {
  override name = "OutputDirError";
}

/** Names of a run's outputs in its output directory. */
const RUN_FILES = ["metrics.jsonl", "completions.jsonl", "model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "adapter_config.json", "reference_logps.safetensors"];
const PREVIOUS = /^ortrl-previous-run-(\d+)$/;

/** Files and folders of an earlier run in `dir` (checkpoints, metrics, model files). */
export function earlierRunFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^checkpoint-\d+$/.test(f) || RUN_FILES.includes(f) || /^model-\d+-of-\d+\.safetensors$/.test(f));
}

/** The real path of `p`, or its absolute path when it does not exist. */
function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Whether `inner` is `outer` or lies inside it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (rel.split(sep)[0] !== ".." && !isAbsolute(rel));
}

export interface PrepareOutputDirOptions {
  /** The run continues a checkpoint (its files stay where they are). */
  resuming: boolean;
  /** An earlier run's files may be moved aside (--overwrite-output-dir). */
  overwrite: boolean;
  /** Directories the run reads and must not write into: `{ what: "--model", path }`. */
  inputs: { what: string; path: string }[];
}

/**
 * Checks (and, with `overwrite`, clears by moving aside) an output directory before training, and
 * that it (or the directory it will be created in) is writable, so that a read-only place fails before
 * any work. Nothing is created.
 * @returns the directory the earlier run was moved to, or null.
 * @throws OutputDirError when `dir` is a file, is or contains an input, or holds an earlier run and
 *   neither `overwrite` nor `resuming` is set; FileSystemError when the move fails (nothing moved is lost).
 */
export function prepareOutputDir(dir: string, opts: PrepareOutputDirOptions): string | null {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new OutputDirError(`--output-dir ${dir} is a file, expected a directory`);
  const out = real(dir);
  for (const input of opts.inputs) {
    if (within(real(input.path), out)) {
      throw new OutputDirError(`--output-dir ${dir} ${real(input.path) === out ? "is" : "contains"} the input of ${input.what} (${input.path}); training would write over it: choose another output directory`);
    }
  }
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  withFsContext(existing === resolve(dir) ? "write into" : "create", existing === resolve(dir) ? dir : `${dir} in ${existing}`, () => accessSync(existing, constants.W_OK));
  if (opts.resuming) return null;
  const old = earlierRunFiles(dir);
  if (!old.length) return null;
  if (!opts.overwrite) {
    throw new OutputDirError(
      `--output-dir ${dir} already holds a training run (${old.slice(0, 3).join(", ")}${old.length > 3 ? ", ..." : ""}); ` +
        "pass --overwrite-output-dir to replace it or --resume-from-checkpoint to continue it",
    );
  }
  const taken = readdirSync(dir).map((f) => PREVIOUS.exec(f)).filter((m) => m !== null).map((m) => Number(m[1]));
  const aside = join(dir, `ortrl-previous-run-${Math.max(0, ...taken) + 1}`);
  withFsContext("create directory", aside, () => mkdirSync(aside));
  for (const f of old) withFsContext("move", join(dir, f), () => renameSync(join(dir, f), join(aside, f)));
  process.emitWarning(`--overwrite-output-dir: the earlier run in ${dir} (${old.length} entries) was moved to ${aside}; it is deleted when this run completes`, { code: "ORTRL_PREVIOUS_RUN" });
  return aside;
}

/** After a completed run: removes the earlier runs that {@link prepareOutputDir} moved aside. Returns what was removed. */
export function completeOutputDir(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const gone = readdirSync(dir).filter((f) => PREVIOUS.test(f)).map((f) => join(dir, f));
  for (const p of gone) rmSync(p, { recursive: true, force: true });
  return gone;
}
