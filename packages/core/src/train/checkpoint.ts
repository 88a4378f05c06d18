/**
 * Checkpoints: `outputDir/checkpoint-N/` holds the trained model (HF model directory, or PEFT adapter
 * directory for LoRA), `optimizer.safetensors` (optimizer state tensors, step in the metadata) and
 * `trainer_state.json` (transformers' TrainerState fields: global_step, epoch, log_history, ...,
 * plus the RNG seed). Each checkpoint is built in a temporary directory and renamed into place, so a
 * crash never leaves a half checkpoint; rotation (saveTotalLimit) deletes the oldest only after the
 * new one is complete.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { removeQuietly, renamePath, writeDirAtomic, writeJsonAtomic } from "../io/atomic.js";
import { withFsContext } from "../io/fs-errors.js";
import type { RunFingerprint } from "./run-fingerprint.js";
import { SafetensorsFile, writeSafetensors } from "../io/safetensors.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { Policy } from "./seams.js";

export interface TrainerState {
  global_step: number;
  epoch: number;
  max_steps: number;
  num_train_epochs: number;
  logging_steps: number;
  eval_steps: number | null;
  save_steps: number;
  train_batch_size: number;
  num_input_tokens_seen: number;
  seed: number;
  log_history: Record<string, number>[];
  /** What a resuming run must agree with (absent in checkpoints of older versions). */
  ortrl_fingerprint?: RunFingerprint;
  /** Sum of the step losses so far, so that train_loss of a resumed run covers every step. */
  ortrl_train_loss_sum?: number;
}

export const TRAINER_STATE_FILE = "trainer_state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";

/** Writes checkpoint-`state.global_step` atomically and applies the rotation limit; returns its path. */
export async function saveCheckpoint(outputDir: string, policy: Policy, optimizer: Optimizer, state: TrainerState, saveTotalLimit: number | null): Promise<string> {
  const dir = join(outputDir, `checkpoint-${state.global_step}`);
  await writeDirAtomic(dir, async (tmp) => {
    await policy.save(tmp);
    const opt = optimizer.stateDict();
    const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const [k, v] of Object.entries(opt.tensors)) tensors[k] = { dtype: "F32", shape: [v.length], data: v };
    writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors, { step: String(opt.step) });
    writeJsonAtomic(join(tmp, TRAINER_STATE_FILE), state);
  });
  if (saveTotalLimit !== null) {
    const all = listCheckpoints(outputDir);
    // Renamed first, so that a deletion cut short leaves a `.del-<pid>` leftover, never a half checkpoint under its own name.
    for (const c of all.slice(0, Math.max(0, all.length - saveTotalLimit))) {
      const doomed = `${c.path}.del-${process.pid}`;
      renameSync(c.path, doomed);
      rmSync(doomed, { recursive: true, force: true });
    }
  }
  return dir;
}

/** Files that make a model directory usable; written last, so a directory without them is visibly incomplete. */
const CONFIG_FILES = new Set(["config.json", "adapter_config.json"]);

/**
 * Writes the final model into `outputDir` as safely as a directory that holds other things can be:
 * the whole model is first written into `outputDir/final-model.tmp-<pid>/` (fsynced), then each file
 * is renamed into place, config.json / adapter_config.json last. A failure while writing leaves the
 * earlier files of `outputDir` untouched (the temporary directory is removed, or cleaned at the next
 * start if the process died).
 * @throws FileSystemError naming the file that could not be written.
 */
export async function saveFinalModel(outputDir: string, policy: Policy): Promise<void> {
  const stage = join(outputDir, `final-model.tmp-${process.pid}`);
  removeQuietly(stage);
  withFsContext("create directory", outputDir, () => mkdirSync(stage, { recursive: true }));
  try {
    try {
      await policy.save(stage);
    } catch (e) {
      throw renamePath(e, stage, outputDir); // name the file the user will look for, not the temporary one
    }
    const files = readdirSync(stage).sort((a, b) => Number(CONFIG_FILES.has(a)) - Number(CONFIG_FILES.has(b)));
    for (const f of files) withFsContext("write", join(outputDir, f), () => renameSync(join(stage, f), join(outputDir, f)));
  } finally {
    removeQuietly(stage);
  }
}

/** Complete checkpoints of an output directory, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; path: string }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((name) => /^checkpoint-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(outputDir, m[0]) }))
    .filter((c) => existsSync(join(c.path, TRAINER_STATE_FILE)))
    .sort((a, b) => a.step - b.step);
}

/**
 * Reads and checks a checkpoint's trainer_state.json (without the optimizer state).
 * @throws Error naming the file and field when it is missing, malformed, or disagrees with the
 *   directory's name (checkpoint-N holds global_step N).
 */
export function readTrainerState(dir: string): TrainerState {
  const statePath = join(dir, TRAINER_STATE_FILE);
  if (!existsSync(statePath)) throw new Error(`${dir}: not a checkpoint (no ${TRAINER_STATE_FILE})`);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8"));
  } catch (e) {
    throw new Error(`${statePath}: invalid JSON (${(e as Error).message})`);
  }
  if (!Number.isSafeInteger(state.global_step) || state.global_step < 1) throw new Error(`${statePath}: field 'global_step' must be an integer >= 1, got ${JSON.stringify(state.global_step)}`);
  const named = /^checkpoint-(\d+)$/.exec(basename(resolve(dir)));
  if (named && Number(named[1]) !== state.global_step) throw new Error(`${statePath}: field 'global_step' is ${state.global_step} but the directory is ${named[0]}`);
  for (const k of ["num_input_tokens_seen", "epoch"] as const) {
    if (typeof state[k] !== "number" || !Number.isFinite(state[k]) || state[k] < 0) throw new Error(`${statePath}: field '${k}' must be a number >= 0, got ${JSON.stringify(state[k])}`);
  }
  if (!Array.isArray(state.log_history)) throw new Error(`${statePath}: field 'log_history' must be an array`);
  return state;
}

/**
 * Reads trainer_state.json and the optimizer state of a checkpoint.
 * @throws Error naming the directory and file when either is missing or malformed.
 */
export function readCheckpoint(dir: string): { state: TrainerState; optimizer: { step: number; tensors: Record<string, Float32Array> } } {
  const state = readTrainerState(dir);
  return { state, optimizer: readOptimizerState(dir, state.global_step) };
}

/**
 * Reads a checkpoint's optimizer.safetensors (its `step` metadata, else `globalStep`).
 * @throws Error naming the directory when the file is missing or malformed.
 */
export function readOptimizerState(dir: string, globalStep: number): { step: number; tensors: Record<string, Float32Array> } {
  const optPath = join(dir, OPTIMIZER_FILE);
  if (!existsSync(optPath)) throw new Error(`${dir}: no ${OPTIMIZER_FILE}`);
  const st = SafetensorsFile.open(optPath);
  try {
    const tensors: Record<string, Float32Array> = {};
    for (const n of st.tensorNames) tensors[n] = st.readFloat32(n);
    return { step: Number(st.metadata.step ?? globalStep), tensors };
  } finally {
    st.close();
  }
}
