/**
 * The output directory of a run, handled so that nothing a user has is destroyed before its
 * replacement is complete:
 * - a directory holding an earlier run (its checkpoints, logs or model files, or an earlier run moved
 *   aside) is refused unless `overwrite`; then the earlier run's files are moved into
 *   `ortrl-previous-run-N/` inside it (a rename: nothing is copied or deleted) and removed only when a
 *   run started with `overwrite` completes ({@link completeOutputDir}); a run that fails or is
 *   interrupted leaves them where the warning said;
 * - a resumed run must resume a checkpoint of that directory (or `overwrite` it);
 * - an output directory that is, or contains, an input directory (the model or adapter being trained)
 *   is refused, and so is moving aside an input file (e.g. a completions.jsonl used as data);
 * - one run at a time: `.ortrl-lock` holds the pid of the run using the directory.
 * The output directory of a model written outside a run (`ortrl merge`) has its own check,
 * {@link checkModelOutputDir}: the same input rule, and a model already there is replaced only with
 * `overwrite` (by its files, not moved aside).
 */
import { accessSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { FileSystemError, withFsContext } from "../io/fs-errors.js";
import { isAlive } from "../io/atomic.js";
import { TOKENIZER_FILES } from "../model/pretrained.js";

/** A problem with the output directory the caller can fix by choosing other options (a usage error). */
export class OutputDirError extends Error {
  override name = "OutputDirError";
}

/** Names of a run's outputs in its output directory: logs, model and adapter files, tokenizer files. */
export const RUN_FILES: readonly string[] = [
  "metrics.jsonl",
  "completions.jsonl",
  "samples.jsonl",
  "reference_logps.safetensors",
  "model.safetensors",
  "model.safetensors.index.json",
  "adapter_model.safetensors",
  "adapter_config.json",
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
  // how the run was trained (training-record.ts)
  "ortrl_training.json",
  // the merged model of a LoRA run (--save-merged)
  "merged",
];
const RUN_ENTRY = /^(checkpoint-\d+|model-\d+-of-\d+\.safetensors)$/;
/** What makes a directory hold a run (a lone config.json, or the reusable reference_logps cache, does not). */
const RUN_MARKERS = new Set(["metrics.jsonl", "completions.jsonl", "samples.jsonl", "model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "merged", "ortrl_training.json"]);
const PREVIOUS = /^ortrl-previous-run-(\d+)$/;
const LOCK = ".ortrl-lock";

/**
 * Files and folders of an earlier run in `dir` (checkpoints, logs, model and tokenizer files), without
 * runs moved aside; empty when nothing in `dir` marks a run (checkpoints, logs, model weights).
 */
export function earlierRunFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  if (!names.some((f) => RUN_ENTRY.test(f) || RUN_MARKERS.has(f))) return [];
  return names.filter((f) => RUN_ENTRY.test(f) || RUN_FILES.includes(f));
}

/** Whether `name` is something ortrl writes into an output directory (for cleaning its temporaries). */
export function isRunOutputName(name: string): boolean {
  return RUN_ENTRY.test(name) || RUN_FILES.includes(name) || name === "final-model";
}

/** The run fingerprint recorded in a checkpoint's trainer_state.json, or null. */
function fingerprintOf(checkpoint: string): string | null {
  try {
    const f = JSON.parse(readFileSync(join(checkpoint, "trainer_state.json"), "utf8")).ortrl_fingerprint;
    return f ? JSON.stringify(f) : null;
  } catch {
    return null;
  }
}

/** Whether `checkpoint` belongs to the run in `dir`: one of its own checkpoints, or one with the same fingerprint as its newest (e.g. a rescue checkpoint written elsewhere). */
function isCheckpointOf(checkpoint: string, dir: string): boolean {
  if (dirname(real(checkpoint)) === real(dir) && /^checkpoint-\d+$/.test(basename(real(checkpoint)))) return true;
  const own = readdirSync(dir).filter((f) => /^checkpoint-\d+$/.test(f)).sort((a, b) => Number(b.slice(11)) - Number(a.slice(11)));
  const mine = fingerprintOf(checkpoint);
  return mine !== null && own.length > 0 && fingerprintOf(join(dir, own[0]!)) === mine;
}

/** Earlier runs moved aside by --overwrite-output-dir (`ortrl-previous-run-N`). */
export function previousRuns(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => PREVIOUS.test(f));
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
  /** The checkpoint the run continues (--resume-from-checkpoint), or null. */
  resumeFrom: string | null;
  /** An earlier run's files may be moved aside (--overwrite-output-dir). */
  overwrite: boolean;
  /** Directories the run reads; the output directory must neither be nor contain them: `{ what: "--model", path }`. */
  inputs: { what: string; path: string }[];
  /** Files the run reads (data, reward functions); they must not be part of what `overwrite` moves aside. */
  inputFiles?: { what: string; path: string }[];
}

/**
 * The nearest existing folder at or above `dir` (where it will be created).
 * @throws OutputDirError when that is a file (`dir` is a file, or lies under one).
 */
function usableDir(dir: string): string {
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) {
    throw new OutputDirError(existing === resolve(dir) ? `--output-dir ${dir} is a file, expected a directory` : `--output-dir ${dir} cannot be created: ${existing} is a file`);
  }
  return existing;
}

/** @throws OutputDirError when `dir` is, or contains, one of `inputs` (`writer` would write over it). */
function assertNoInputs(dir: string, inputs: readonly { what: string; path: string }[], writer: string): void {
  const out = real(dir);
  for (const input of inputs) {
    if (within(real(input.path), out)) {
      throw new OutputDirError(`--output-dir ${dir} ${real(input.path) === out ? "is" : "contains"} the input of ${input.what} (${input.path}); ${writer} would write over it: choose another output directory`);
    }
  }
}

/** @throws FileSystemError when `existing` (`dir`, or the folder it will be created in) is not writable. */
function assertWritable(dir: string, existing: string): void {
  withFsContext(existing === resolve(dir) ? "write into" : "create", existing === resolve(dir) ? dir : `${dir} in ${existing}`, () => accessSync(existing, constants.W_OK));
}

/**
 * Checks (and, with `overwrite`, clears by moving aside) an output directory before training, and
 * that it (or the directory it will be created in) is writable, so that a read-only place fails before
 * any work. Nothing is created except `ortrl-previous-run-N/` when moving.
 * @returns the directory the earlier run was moved to, or null.
 * @throws OutputDirError when `dir` is (under) a file, is or contains an input, holds an earlier run
 *   and `overwrite` is not set (a resumed run may continue a checkpoint of `dir` itself), or `overwrite`
 *   would move an input file; FileSystemError when it is not writable or the move fails (nothing moved is lost).
 */
export function prepareOutputDir(dir: string, opts: PrepareOutputDirOptions): string | null {
  const existing = usableDir(dir);
  const out = real(dir);
  assertNoInputs(dir, opts.inputs, "training");
  assertWritable(dir, existing);
  // A file the run reads must not be one the run writes (or moves aside): e.g. --config DIR/config.json.
  for (const f of opts.inputFiles ?? []) {
    const rel = relative(out, real(f.path));
    const top = rel.split(sep)[0]!;
    if (within(real(f.path), out) && (RUN_ENTRY.test(top) || RUN_FILES.includes(top))) {
      throw new OutputDirError(`${f.what} ${f.path} is inside --output-dir ${dir} where the run writes ${top}; move it elsewhere first`);
    }
  }
  const old = earlierRunFiles(dir);
  const previous = previousRuns(dir);
  if (opts.resumeFrom && existsSync(dir) && isCheckpointOf(opts.resumeFrom, dir)) return null; // continuing this directory's own run
  if (!old.length && !previous.length) return null;
  if (!opts.overwrite) {
    const held = [...old, ...previous];
    throw new OutputDirError(
      `--output-dir ${dir} already holds a training run (${held.slice(0, 3).join(", ")}${held.length > 3 ? ", ..." : ""}); ` +
        (opts.resumeFrom
          ? `--resume-from-checkpoint ${opts.resumeFrom} is not one of its checkpoints: pass --overwrite-output-dir to replace it, or choose another output directory`
          : "pass --overwrite-output-dir to replace it or --resume-from-checkpoint to continue it"),
    );
  }
  if (!old.length) return null;
  for (const f of opts.inputFiles ?? []) {
    const hit = old.find((o) => within(real(f.path), real(join(dir, o))));
    if (hit) throw new OutputDirError(`${f.what} ${f.path} is part of the earlier run in ${dir} (${hit}), which --overwrite-output-dir would move aside; copy it elsewhere first`);
  }
  const taken = previous.map((f) => Number(PREVIOUS.exec(f)![1]));
  const aside = join(dir, `ortrl-previous-run-${Math.max(0, ...taken) + 1}`);
  withFsContext("create directory", aside, () => mkdirSync(aside));
  for (const f of old) withFsContext("move", join(dir, f), () => renameSync(join(dir, f), join(aside, f)));
  process.emitWarning(`--overwrite-output-dir: the earlier run in ${dir} (${old.length} ${old.length === 1 ? "entry" : "entries"}) was moved to ${aside}; it is deleted when this run completes`, {
    code: "ORTRL_PREVIOUS_RUN",
  });
  return aside;
}

/**
 * After a completed run: a run started with --overwrite-output-dir removes the earlier runs that
 * {@link prepareOutputDir} moved aside (it has replaced them); any other run keeps them and says so.
 * Returns what was removed.
 */
export function completeOutputDir(dir: string, overwrite: boolean, inputFiles: { what: string; path: string }[] = []): string[] {
  const found = previousRuns(dir).map((f) => join(dir, f));
  // A file the run read (its data, its --config) is never deleted with the run it sits in.
  const holdsInput = (p: string) => inputFiles.some((f) => within(real(f.path), real(p)));
  const keep = overwrite ? found.filter(holdsInput) : found;
  if (keep.length) process.emitWarning(`${dir} still holds earlier runs moved aside by --overwrite-output-dir (${keep.join(", ")})${overwrite ? ", kept because this run read files from them" : ""}; delete them when you no longer need them`, { code: "ORTRL_PREVIOUS_RUN" });
  if (!overwrite) return [];
  const gone = found.filter((p) => !holdsInput(p));
  for (const p of gone) rmSync(p, { recursive: true, force: true });
  return gone;
}

/**
 * Claims `dir` for this process (`dir/.ortrl-lock` holds the pid; the directory is created, and
 * removed again on release if nothing was written into it). A lock left by a process that no longer
 * runs is taken over.
 * @returns a function that releases the lock (also released when the process exits).
 * @throws OutputDirError when a live process holds it.
 */
export function lockOutputDir(dir: string): () => void {
  usableDir(dir);
  const created = !existsSync(dir);
  withFsContext("create directory", dir, () => mkdirSync(dir, { recursive: true }));
  const file = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new FileSystemError("create", file, code, e);
      if (attempt > 0) throw new OutputDirError(`--output-dir ${dir} is in use by another run (${file})`);
      const pid = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) throw new OutputDirError(`--output-dir ${dir} is in use by another run (process ${pid}, ${file})`);
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  const release = () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
      if (created) rmdirSync(dir); // a run that wrote nothing leaves no empty directory (fails if not empty)
    } catch {
      // already gone, or the directory holds something
    }
    process.off("exit", release);
  };
  process.on("exit", release);
  return release;
}

/** Files that make a directory hold a model or an adapter: config.json, weights (safetensors, shards, index, PyTorch pickles), PEFT adapter files. */
const MODEL_MARKER = /^(config\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|pytorch_model.*\.bin(\.index\.json)?|adapter_config\.json|adapter_model\.(safetensors|bin))$/;

/**
 * Whether `name` is a file of a Hugging Face model or PEFT adapter directory: those of {@link MODEL_MARKER} and the
 * tokenizer-side files ({@link TOKENIZER_FILES}, generation_config.json included). Writing a model into a directory
 * replaces these.
 */
export function isModelFile(name: string): boolean {
  return MODEL_MARKER.test(name) || TOKENIZER_FILES.includes(name);
}

/** The model, adapter and tokenizer files of `dir` ({@link isModelFile}), sorted; empty when `dir` does not exist. */
export function modelFilesIn(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir).filter(isModelFile).sort();
}

/**
 * Checks the output directory of a model written outside a training run (`ortrl merge`, {@link saveMergedModel})
 * before anything is read or written: it must not be a file or lie under one, must neither be nor contain an input
 * (`inputs`, e.g. the base model and the adapter), must not already hold files of a model, adapter or tokenizer
 * ({@link isModelFile}: what writing a model there would replace) unless `overwrite`, and it (or the folder it will
 * be created in) must be writable.
 * Nothing is created or changed.
 * @returns the model files already in `dir` (those `overwrite` lets the new model replace).
 * @throws OutputDirError for each refusal above (a usage error); FileSystemError when it is not writable.
 */
export function checkModelOutputDir(dir: string, opts: { inputs: readonly { what: string; path: string }[]; overwrite: boolean }): string[] {
  const existing = usableDir(dir);
  assertNoInputs(dir, opts.inputs, "saving the model");
  const held = modelFilesIn(dir);
  if (held.length && !opts.overwrite) {
    const what = held.some((f) => MODEL_MARKER.test(f)) ? "a model" : "model files";
    throw new OutputDirError(`--output-dir ${dir} already holds ${what} (${held.slice(0, 3).join(", ")}${held.length > 3 ? ", ..." : ""}); pass --overwrite-output-dir to replace it, or choose another output directory`);
  }
  assertWritable(dir, existing);
  return held;
}
