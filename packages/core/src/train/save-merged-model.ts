/**
 * Writing a model with its LoRA adapter merged (PEFT's merge_and_unload, then transformers'
 * save_pretrained) as a Hugging Face model directory, without destroying what is there:
 * - the directory is checked first ({@link checkModelOutputDir}): never the base model or the adapter
 *   (nor a directory containing them), never a directory already holding a model, an adapter or
 *   tokenizer files unless `overwrite`;
 * - the new model is written completely into a temporary directory first: a new output directory is
 *   that temporary directory renamed (`<dir>.tmp-<pid>` beside it); into an existing one its files are
 *   renamed from `<dir>/merged-model.tmp-<pid>/`, and the earlier model's files that the new one does
 *   not have (other shards, an index, PyTorch weights, tokenizer or adapter files: `isModelFile`) are
 *   deleted before config.json arrives last; other files stay;
 * - a failed write (a full disk, a value float16 cannot hold) leaves nothing of the new model; a killed
 *   process leaves only a `*.tmp-<pid>` directory, removed by the next call (or by the next training
 *   run for `OUTPUT_DIR/merged`).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { removeQuietly, removeStaleTemporaries, renamePath, writeDirAtomic, writeFileAtomic } from "../io/atomic.js";
import { withFsContext } from "../io/fs-errors.js";
import { mergedWeights } from "../lora/merge.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { LlamaConfig } from "../model/llama-config.js";
import { MODEL_DTYPES, type ModelDType, savePretrained } from "../model/pretrained.js";
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import { checkModelOutputDir, isModelFile } from "./output-dir.js";
import { CHAT_TEMPLATE_FILE } from "./training-record.js";

export interface SaveMergedModelOptions {
  /**
   * The adapted model: a CausalLM with a LoRA adapter attached (`attachAdapterFromDir(m.lm, dir).lm`, or a LoRA
   * policy's `lm`). It is not changed: merged tensors are computed one at a time ({@link mergedWeights}). Not a model
   * whose adapter was already folded in by `mergeAndUnload` / `mergeLora` (which change the shared parameters):
   * the update would be added twice.
   */
  lm: CausalLM;
  /** Its config; written as config.json with `torch_dtype` set to `dtype` (tie_word_embeddings kept). */
  config: LlamaConfig;
  /** Directory whose tokenizer files and generation_config.json are copied (usually the base model's)... */
  tokenizerFrom?: string | null;
  /** ...or a byte-level tokenizer to write. */
  tokenizer?: TokenizerLike | null;
  /**
   * A chat template to save as chat_template.jinja, replacing the one of `tokenizerFrom` (e.g. the template an adapter
   * was trained with, saved beside it; see training-record.ts).
   */
  chatTemplate?: string | null;
  /** Element type of the saved weights (default "float32"); float16 / bfloat16 round to nearest even. */
  dtype?: ModelDType;
  /** Largest shard, in bytes of tensor data (default 5e9, transformers' "5GB"); see `writeModelWeights`. */
  maxShardSize?: number;
  /** Replace a model, adapter or tokenizer files already in the directory (default false: refused). */
  overwrite?: boolean;
  /**
   * Directories the merge reads, which the output directory must neither be nor contain, named for messages
   * (`{ what: "--model", path }`). `tokenizerFrom` is always one of them.
   */
  inputs?: readonly { what: string; path: string }[];
}

/** What {@link saveMergedModel} wrote. */
export interface SavedMergedModel {
  dir: string;
  dtype: ModelDType;
  /** Every file of the new model, weights first (model.safetensors, or the shards and the index), config.json last. */
  files: string[];
  /** Bytes of tensor data in the weight files (the index's metadata.total_size). */
  totalSize: number;
}

/** The staging directory inside an existing output directory. */
const STAGE = "merged-model";

/**
 * Merges `lm`'s LoRA adapter into its base weights and writes the result into `dir` as a Hugging Face model
 * directory: config.json (`torch_dtype` = `dtype`), model.safetensors in `dtype` (F32 / F16 / BF16, `format: pt`
 * metadata) or, above `maxShardSize` bytes, shards `model-0000i-of-0000N.safetensors` with
 * model.safetensors.index.json, and the tokenizer files and generation_config.json of `tokenizerFrom`. With tied
 * embeddings no lm_head.weight is written. How the directory is protected is described in this file's comment.
 * @throws OutputDirError (a usage error) when `dir` is unusable (see {@link checkModelOutputDir}); Error for a model
 *   without an adapter, an unknown dtype, a maxShardSize that is not a positive integer, or a value beyond float16's
 *   range; FileSystemError naming the file that could not be written (nothing of the new model is then left in
 *   `dir`, and an earlier model there is untouched).
 */
export async function saveMergedModel(dir: string, opts: SaveMergedModelOptions): Promise<SavedMergedModel> {
  const dtype = opts.dtype ?? "float32";
  if (!opts.lm.adapter) throw new Error("saveMergedModel: the model has no LoRA adapter attached (nothing to merge)");
  if (!MODEL_DTYPES.includes(dtype)) throw new Error(`saveMergedModel: dtype must be one of ${MODEL_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  if (opts.maxShardSize !== undefined && (!Number.isSafeInteger(opts.maxShardSize) || opts.maxShardSize < 1)) {
    throw new Error(`saveMergedModel: maxShardSize must be a positive integer (bytes), got ${opts.maxShardSize}`);
  }
  const inputs = [...(opts.inputs ?? []), ...(opts.tokenizerFrom ? [{ what: "the tokenizer files", path: opts.tokenizerFrom }] : [])];
  checkModelOutputDir(dir, { inputs, overwrite: opts.overwrite ?? false });
  const weights = mergedWeights(opts.lm);
  let written = { files: [] as string[], totalSize: 0 };
  const fill = async (tmp: string) => {
    const w = await savePretrained(tmp, {
      config: opts.config,
      params: weights,
      dtype,
      maxShardSize: opts.maxShardSize,
      tokenizerFrom: opts.tokenizerFrom ?? undefined,
      tokenizer: opts.tokenizer ?? undefined,
    });
    if (opts.chatTemplate) writeFileAtomic(join(tmp, CHAT_TEMPLATE_FILE), opts.chatTemplate);
    const rest = readdirSync(tmp).filter((f) => !w.files.includes(f) && f !== "config.json").sort();
    written = { files: [...w.files, ...rest, "config.json"], totalSize: w.totalSize };
  };
  // Leftovers of an interrupted earlier call (only those of processes that are gone).
  const parent = dirname(resolve(dir));
  removeStaleTemporaries(parent, (name) => name === basename(resolve(dir)));
  if (!existsSync(dir)) {
    await writeDirAtomic(dir, fill);
  } else {
    removeStaleTemporaries(dir, (name) => name === STAGE);
    await replaceModelFiles(dir, fill);
  }
  return { dir, dtype, ...written };
}

/**
 * Writes a model into `dir/merged-model.tmp-<pid>/` with `fill`, then renames its files into `dir` (config.json
 * last), then deletes the earlier model files of `dir` the new model does not have.
 * @throws whatever `fill` throws (FileSystemError paths re-aimed at `dir`); `dir` is untouched then.
 */
async function replaceModelFiles(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const stage = join(dir, `${STAGE}.tmp-${process.pid}`);
  removeQuietly(stage);
  withFsContext("create directory", stage, () => mkdirSync(stage));
  try {
    try {
      await fill(stage);
    } catch (e) {
      throw renamePath(e, stage, dir);
    }
    const files = readdirSync(stage);
    for (const f of files.filter((f) => f !== "config.json")) withFsContext("write", join(dir, f), () => renameSync(join(stage, f), join(dir, f)));
    // Stale files of the earlier model go before config.json arrives: the directory never holds the new config with
    // the old shards (or an index listing them).
    for (const f of readdirSync(dir)) {
      if (isModelFile(f) && !files.includes(f)) withFsContext("remove", join(dir, f), () => rmSync(join(dir, f), { force: true }));
    }
    withFsContext("write", join(dir, "config.json"), () => renameSync(join(stage, "config.json"), join(dir, "config.json")));
  } finally {
    removeQuietly(stage);
  }
}
