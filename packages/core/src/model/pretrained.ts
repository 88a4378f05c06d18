/**
 * Loading and saving Hugging Face model directories (config.json, model.safetensors or shards,
 * tokenizer files, generation_config.json). Weights of any float dtype (F32/F16/BF16/F64) are
 * converted to float32 straight into a ParamStore; saving writes float32, float16 or bfloat16, sharded
 * as transformers shards.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { withFsContext } from "../io/fs-errors.js";
import { type ModelWeights, type WrittenWeights, openModelWeights, writeModelWeights } from "../io/model-weights.js";
import { float32ToBf16, float32ToF16 } from "../io/safetensors.js";
import { type ParamSource, ParamStore } from "../params/param-store.js";
import { Runtime } from "../runtime/runtime.js";
import { ByteTokenizer } from "../tokenizer/byte-tokenizer.js";
import { Tokenizer } from "../tokenizer/hf-tokenizer.js";
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import { type GenerationConfig, readGenerationConfig } from "./generation-config.js";
import { llamaParamSpecs } from "./llama-arch.js";
import { type LlamaConfig, llamaConfigToJson, readLlamaConfig } from "./llama-config.js";
import { CausalLM } from "./causal-lm.js";
import { assertFinite, checkTensorNames, checkTokenizerFitsEmbedding } from "./weight-checks.js";

/** Tokenizer-side files copied along with a model (when present in the source directory). */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

export interface PretrainedModel {
  dir: string;
  config: LlamaConfig;
  lm: CausalLM;
  tokenizer: TokenizerLike | null;
  generationConfig: GenerationConfig;
}

const LM_HEAD = "lm_head.weight";
const EMBED = "model.embed_tokens.weight";

/**
 * Reads the parameters of a model directory into a new ParamStore, checking that the weights are exactly the
 * model the config describes: every tensor it implies present with its shape, every tensor of the weights used
 * (apart from weight-checks' IGNORED_UNUSED_TENSORS, and a tied `lm_head.weight` equal to the embedding, which
 * transformers ignores too), and every value finite.
 * @throws Error naming the directory (or file) and the tensors when tensors are missing or unused (saying so when
 *   config.json's num_hidden_layers disagrees with the weights' layers), a tensor has the wrong shape, a tensor has
 *   NaN/Inf values, or tie_word_embeddings is true but the weights' lm_head.weight differs from the embedding.
 */
export function loadWeights(dir: string, config: LlamaConfig): ParamStore {
  const weights = openModelWeights(dir);
  try {
    const specs = llamaParamSpecs(config);
    const tiedHead = config.tieWordEmbeddings && weights.has(LM_HEAD);
    const present = [...weights.tensorNames.filter((n) => !(tiedHead && n === LM_HEAD)), ...weights.unindexedTensorNames];
    checkTensorNames({ source: dir, expected: specs.map((s) => s.name), present, numHiddenLayers: config.numHiddenLayers });
    const params = new ParamStore(specs);
    for (const s of specs) {
      const info = weights.info(s.name);
      if (info.shape.length !== s.shape.length || info.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`${dir}: tensor '${s.name}' has shape [${info.shape.join(", ")}], config implies [${s.shape.join(", ")}]`);
      }
      const data = params.get(s.name);
      weights.readFloat32Into(s.name, data);
      assertFinite(data, weights.fileOf(s.name).path, s.name);
    }
    if (tiedHead) checkTiedHead(weights, params.get(EMBED), params.shape(EMBED));
    return params;
  } finally {
    weights.close();
  }
}

/**
 * With tie_word_embeddings the output head is the embedding; a stored lm_head.weight is ignored (as transformers
 * does) when it equals the embedding, and refused when it does not (the config or the weights are wrong).
 */
function checkTiedHead(weights: ModelWeights, embed: Float32Array, embedShape: readonly number[]): void {
  const file = weights.fileOf(LM_HEAD).path;
  const shape = weights.info(LM_HEAD).shape;
  const fix = "set tie_word_embeddings to false in config.json to use it, or remove it from the weights";
  if (shape.length !== embedShape.length || shape.some((d, i) => d !== embedShape[i])) {
    throw new Error(`${file}: tie_word_embeddings is true but '${LM_HEAD}' has shape [${shape.join(", ")}], the embedding [${embedShape.join(", ")}]; ${fix}`);
  }
  const head = weights.readFloat32(LM_HEAD);
  assertFinite(head, file, LM_HEAD);
  for (let i = 0; i < head.length; i++) {
    if (head[i] !== embed[i]) {
      throw new Error(`${file}: tie_word_embeddings is true but '${LM_HEAD}' differs from '${EMBED}' (first at index ${i}: ${head[i]} vs ${embed[i]}); ${fix}`);
    }
  }
}

/**
 * Loads a Hugging Face Llama-family directory: config, weights (checked by {@link loadWeights}), tokenizer (if
 * tokenizer.json exists) and generation config.
 * @throws Error naming the file and field for a missing/invalid config, missing, unused, mis-shaped or non-finite
 *   weights, a bad tokenizer, or a tokenizer with ids beyond the embedding (config.json vocab_size).
 */
export async function loadPretrained(dir: string, runtime: Runtime = new Runtime()): Promise<PretrainedModel> {
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`model directory ${dir} is a file, expected a Hugging Face model directory`);
  const config = readLlamaConfig(dir);
  const params = loadWeights(dir, config);
  const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await Tokenizer.fromDir(dir) : null;
  if (tokenizer) checkTokenizerFitsEmbedding(dir, tokenizer, config.vocabSize);
  return { dir, config, lm: new CausalLM(config, params, runtime), tokenizer, generationConfig: readGenerationConfig(dir) };
}

/** Element types a model can be saved in (config.json's `torch_dtype`). */
export const MODEL_DTYPES = ["float32", "float16", "bfloat16"] as const;
export type ModelDType = (typeof MODEL_DTYPES)[number];

const SAFETENSORS_DTYPE: Record<ModelDType, "F32" | "F16" | "BF16"> = { float32: "F32", float16: "F16", bfloat16: "BF16" };
/** Largest finite float16 value. */
const F16_MAX = 65504;

/**
 * `data` in `dtype` as safetensors stores it: float32 as is, float16 / bfloat16 rounded to nearest even (as
 * torch's `.to()`), as Uint16Array bits.
 * @throws Error naming `where` and the tensor when a finite value is beyond float16's range (it would become
 *   infinite; a model with Inf weights is refused when loaded): save as bfloat16 or float32 instead.
 */
export function toModelDType(data: Float32Array, dtype: ModelDType, where: string, name: string): Float32Array | Uint16Array {
  if (dtype === "float32") return data;
  if (dtype === "bfloat16") return float32ToBf16(data);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // Values below 65520 round to at most 65504; 65520 and above round to Inf.
    if (Math.abs(v) >= F16_MAX + 16 && Number.isFinite(v)) {
      throw new Error(`${where}: tensor '${name}' has the value ${v} (index ${i}), beyond float16's range (±${F16_MAX}); save it as bfloat16 or float32`);
    }
  }
  return float32ToF16(data);
}

/** Read access to the float32 tensors to save: a ParamStore, or a view computing them on demand (e.g. merged weights). */
export type WeightsToSave = Pick<ParamSource, "names" | "shape" | "get">;

export interface SaveModelOptions {
  config: LlamaConfig;
  /** The tensors (float32), named as in Hugging Face checkpoints; each is asked for once, when its shard is written. */
  params: WeightsToSave;
  /** Copy tokenizer files from this directory... */
  tokenizerFrom?: string;
  /** ...or write this byte-level tokenizer. */
  tokenizer?: TokenizerLike;
  /**
   * Element type of the weights and config.json's `torch_dtype` (default "float32"); float16 / bfloat16 are rounded
   * to nearest even ({@link toModelDType}).
   */
  dtype?: ModelDType;
  /**
   * Largest shard in bytes of tensor data (default {@link DEFAULT_MAX_SHARD_SIZE}, transformers' "5GB"); above it
   * the weights are sharded as transformers shards them ({@link writeModelWeights}).
   */
  maxShardSize?: number;
}

/**
 * Writes an HF model directory: config.json (torch_dtype set to `dtype`), the weights (model.safetensors, or shards
 * and model.safetensors.index.json; `format: pt` metadata) in `dtype`, and the tokenizer files. Each file is written
 * atomically; with tied embeddings there is no lm_head.weight (the parameters have none). Callers that must not leave
 * a half-written directory write into a temporary one and move the files in, config.json last (see
 * train/checkpoint.ts and train/save-merged-model.ts).
 * @returns the weight files written (see {@link writeModelWeights}).
 * @throws Error for an unknown dtype, a float16 overflow ({@link toModelDType}) or a bad maxShardSize;
 *   FileSystemError naming the file that could not be written.
 */
export async function savePretrained(dir: string, opts: SaveModelOptions): Promise<WrittenWeights> {
  const dtype = opts.dtype ?? "float32";
  if (!MODEL_DTYPES.includes(dtype)) throw new Error(`savePretrained: dtype must be one of ${MODEL_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  withFsContext("create directory", dir, () => mkdirSync(dir, { recursive: true }));
  // Newer transformers write `dtype` instead of torch_dtype; a config read with it keeps it in `extra`.
  const extra = "dtype" in opts.config.extra ? { ...opts.config.extra, dtype } : opts.config.extra;
  writeJsonAtomic(join(dir, "config.json"), llamaConfigToJson({ ...opts.config, torchDtype: dtype, extra }));
  const p = opts.params;
  const weights = writeModelWeights(
    dir,
    p.names.map((name) => ({ name, dtype: SAFETENSORS_DTYPE[dtype], shape: [...p.shape(name)], data: () => toModelDType(p.get(name), dtype, dir, name) })),
    { maxShardSize: opts.maxShardSize, metadata: { format: "pt" } },
  );
  if (opts.tokenizerFrom) copyTokenizerFiles(opts.tokenizerFrom, dir);
  else if (opts.tokenizer instanceof ByteTokenizer) await opts.tokenizer.saveTo(dir);
  return weights;
}

/**
 * Copies the tokenizer-side files ({@link TOKENIZER_FILES}) that exist in `from` into `to`, each written
 * atomically with default permissions (a read-only source does not make the copy read-only).
 */
export function copyTokenizerFiles(from: string, to: string): void {
  for (const f of TOKENIZER_FILES) {
    const src = join(from, f);
    if (existsSync(src)) writeFileAtomic(join(to, f), readFileSync(src));
  }
}
