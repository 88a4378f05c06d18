/**
 * Loading and saving Hugging Face model directories (config.json, model.safetensors or shards,
 * tokenizer files, generation_config.json). Weights of any float dtype (F32/F16/BF16/F64) are
 * converted to float32 straight into a ParamStore.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { type ModelWeights, openModelWeights } from "../io/model-weights.js";
import { writeSafetensors } from "../io/safetensors.js";
import { ParamStore } from "../params/param-store.js";
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

export interface SaveModelOptions {
  config: LlamaConfig;
  params: ParamStore;
  /** Copy tokenizer files from this directory... */
  tokenizerFrom?: string;
  /** ...or write this byte-level tokenizer. */
  tokenizer?: TokenizerLike;
}

/**
 * Writes an HF model directory (config.json, model.safetensors in F32, tokenizer files). Each file is
 * written atomically.
 */
export async function savePretrained(dir: string, opts: SaveModelOptions): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeJsonAtomic(join(dir, "config.json"), llamaConfigToJson({ ...opts.config, torchDtype: "float32" }));
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const name of opts.params.names) tensors[name] = { dtype: "F32", shape: [...opts.params.shape(name)], data: opts.params.get(name) };
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  if (opts.tokenizerFrom) copyTokenizerFiles(opts.tokenizerFrom, dir);
  else if (opts.tokenizer instanceof ByteTokenizer) await opts.tokenizer.saveTo(dir);
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
