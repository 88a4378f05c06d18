/**
 * Loading and saving Hugging Face model directories (config.json, model.safetensors or shards,
 * tokenizer files, generation_config.json). Weights of any float dtype (F32/F16/BF16/F64) are
 * converted to float32 straight into a ParamStore.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type GenerationConfig, type LlamaConfig, llamaConfigToJson, openModelWeights, readGenerationConfig, readLlamaConfig } from "../io/hf-model-dir.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { writeSafetensors } from "../io/safetensors.js";
import { ParamStore } from "../params/param-store.js";
import { Runtime } from "../runtime/runtime.js";
import { ByteTokenizer, Tokenizer, type TokenizerLike } from "../tokenizer/tokenizer.js";
import { llamaParamSpecs } from "./llama-arch.js";
import { CausalLM } from "./causal-lm.js";

/** Tokenizer-side files copied along with a model (when present in the source directory). */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

export interface PretrainedModel {
  dir: string;
  config: LlamaConfig;
  lm: CausalLM;
  tokenizer: TokenizerLike | null;
  generationConfig: GenerationConfig;
}

/**
 * Reads the parameters of a model directory into a new ParamStore.
 * @throws Error naming the directory and tensor when a parameter is missing or has the wrong shape.
 */
export function loadWeights(dir: string, config: LlamaConfig): ParamStore {
  const weights = openModelWeights(dir);
  try {
    const specs = llamaParamSpecs(config);
    const params = new ParamStore(specs);
    for (const s of specs) {
      if (!weights.has(s.name)) throw new Error(`${dir}: model weights have no tensor '${s.name}'`);
      const info = weights.info(s.name);
      if (info.shape.length !== s.shape.length || info.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`${dir}: tensor '${s.name}' has shape [${info.shape.join(", ")}], config implies [${s.shape.join(", ")}]`);
      }
      weights.readFloat32Into(s.name, params.get(s.name));
    }
    return params;
  } finally {
    weights.close();
  }
}

/**
 * Loads a Hugging Face Llama-family directory: config, weights, tokenizer (if tokenizer.json exists)
 * and generation config.
 * @throws Error naming the file and field for a missing/invalid config, missing weights, or a bad tokenizer.
 */
export async function loadPretrained(dir: string, runtime: Runtime = new Runtime()): Promise<PretrainedModel> {
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`model directory ${dir} is a file, expected a Hugging Face model directory`);
  const config = readLlamaConfig(dir);
  const params = loadWeights(dir, config);
  const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await Tokenizer.fromDir(dir) : null;
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
