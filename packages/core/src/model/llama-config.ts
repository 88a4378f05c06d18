/**
 * A Hugging Face model directory's config.json for the Llama family (Llama, Mistral, Qwen2): parsed into
 * a {@link LlamaConfig} with transformers' defaults filled in (rope scaling included), read from a
 * directory, and written back as transformers spells it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Fields, isObject, readJson } from "../io/json-fields.js";
import type { Llama3RopeScaling } from "../nn/rotary.js";
import type { LlamaArch } from "./llama-arch.js";
import { adapterDirAsModel, adapterDirNotModelMessage } from "./adapter-dir.js";

/** Architectures readLlamaConfig accepts (all the Llama decoder: RMSNorm, rotary, GQA, SwiGLU). */
export const LLAMA_ARCHITECTURES = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"] as const;
export type LlamaArchitecture = (typeof LLAMA_ARCHITECTURES)[number];

/**
 * A Llama-family config.json, camelCased, defaults filled in as transformers fills them: the
 * architecture numbers of {@link LlamaArch} (required here: ropeScaling, the bias flags) plus the rest.
 */
export interface LlamaConfig extends LlamaArch {
  /** The supported entry of `architectures` this config was read as. */
  architecture: LlamaArchitecture;
  architectures: string[];
  modelType: string;
  /** Llama 3.1 rotary scaling (`rope_scaling` with rope_type "llama3"); null for plain RoPE. */
  ropeScaling: Llama3RopeScaling | null;
  /** Some attention projection has a bias (= qkvBias || oBias); use qkvBias / oBias to build the model. */
  attentionBias: boolean;
  /** q_proj, k_proj and v_proj have biases (Llama `attention_bias`; always true for Qwen2). */
  qkvBias: boolean;
  /** o_proj has a bias (Llama `attention_bias`; false for Mistral and Qwen2). */
  oBias: boolean;
  /** gate/up/down projections have biases (Llama `mlp_bias`). */
  mlpBias: boolean;
  hiddenAct: "silu";
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /** `torch_dtype` (or `dtype`), e.g. "bfloat16"; null when absent. */
  torchDtype: string | null;
  /**
   * Mistral `sliding_window` (absent: MistralConfig's default 4096; null: full attention); always null for Llama
   * and Qwen2 (Qwen2's `use_sliding_window: true` is refused).
   */
  slidingWindow: number | null;
  /** config.json keys not read into the fields above (e.g. initializer_range), kept for writing back. */
  extra: Record<string, unknown>;
}

interface ArchDefaults {
  modelType: string;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** MistralConfig's `sliding_window` when config.json has no such key. */
const MISTRAL_DEFAULT_SLIDING_WINDOW = 4096;

/** transformers' defaults for keys a config may omit. */
const ARCH_DEFAULTS: Record<LlamaArchitecture, ArchDefaults> = {
  LlamaForCausalLM: { modelType: "llama", maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenId: 2 },
  MistralForCausalLM: { modelType: "mistral", maxPositionEmbeddings: 4096 * 32, bosTokenId: 1, eosTokenId: 2 },
  Qwen2ForCausalLM: { modelType: "qwen2", maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenId: null },
};

const MODEL_TYPE_ARCH: Record<string, LlamaArchitecture> = { llama: "LlamaForCausalLM", mistral: "MistralForCausalLM", qwen2: "Qwen2ForCausalLM" };

function resolveArchitecture(f: Fields, source: string): { architecture: LlamaArchitecture; architectures: string[] } {
  const archs = f.raw("architectures");
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || !archs.every((a) => typeof a === "string")) f.fail("architectures", "must be a list of strings");
    const found = (archs as string[]).find((a): a is LlamaArchitecture => (LLAMA_ARCHITECTURES as readonly string[]).includes(a));
    if (!found)
      throw new Error(`${source}: unsupported architectures ${JSON.stringify(archs)} (supported: ${LLAMA_ARCHITECTURES.join(", ")})`);
    return { architecture: found, architectures: [...(archs as string[])] };
  }
  const modelType = f.str("model_type");
  const arch = modelType !== null ? MODEL_TYPE_ARCH[modelType] : undefined;
  if (!arch)
    throw new Error(`${source}: no 'architectures' and unsupported model_type ${JSON.stringify(modelType)} (supported: ${Object.keys(MODEL_TYPE_ARCH).join(", ")})`);
  return { architecture: arch, architectures: [arch] };
}

function parseRopeScaling(f: Fields, source: string): Llama3RopeScaling | null {
  const v = f.raw("rope_scaling");
  if (v === undefined || v === null) return null;
  if (!isObject(v)) f.fail("rope_scaling", "must be an object or null");
  const type = v["rope_type"] ?? v["type"];
  if (type === "default") return null;
  if (type !== "llama3") throw new Error(`${source}: rope_scaling type ${JSON.stringify(type)} is not supported (only "llama3")`);
  const sub = new Fields(v, `${source} rope_scaling`);
  const need = (key: string): number => {
    const x = sub.raw(key);
    return typeof x === "number" && x > 0 ? x : sub.fail(key, "is required (a positive number)");
  };
  return {
    ropeType: "llama3",
    factor: need("factor"),
    lowFreqFactor: need("low_freq_factor"),
    highFreqFactor: need("high_freq_factor"),
    originalMaxPositionEmbeddings: sub.posInt("original_max_position_embeddings"),
  };
}

/**
 * Parses a config.json object. `source` names it in errors.
 * @throws Error naming the source and the field for an unsupported architecture, rope scaling or activation,
 *   a missing required field (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size)
 *   or a value of the wrong type, and when heads do not divide evenly.
 */
export function parseLlamaConfig(json: unknown, source = "config.json"): LlamaConfig {
  if (!isObject(json)) throw new Error(`${source}: not a JSON object`);
  const f = new Fields(json, source);
  const { architecture, architectures } = resolveArchitecture(f, source);
  const d = ARCH_DEFAULTS[architecture];
  const isLlama = architecture === "LlamaForCausalLM";
  const isQwen2 = architecture === "Qwen2ForCausalLM";

  const modelType = f.str("model_type") ?? d.modelType;
  const hiddenSize = f.posInt("hidden_size");
  const numAttentionHeads = f.posInt("num_attention_heads");
  const numKeyValueHeads = f.posInt("num_key_value_heads", numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0)
    f.fail("num_key_value_heads", `must divide num_attention_heads (${numAttentionHeads})`);
  // head_dim is optional everywhere (newer transformers reads it for Qwen2 too).
  const hd = f.raw("head_dim");
  // Peek (not read): the key stays in `extra` and is written back.
  if (isQwen2 && json.use_sliding_window === true)
    f.fail("use_sliding_window", "is true: Qwen2 sliding-window attention is not supported (transformers versions disagree on the layers max_window_layers selects)");
  let headDim: number;
  if (hd === undefined || hd === null) {
    if (hiddenSize % numAttentionHeads !== 0)
      f.fail("hidden_size", `must be divisible by num_attention_heads (${numAttentionHeads}) when head_dim is absent`);
    headDim = hiddenSize / numAttentionHeads;
  } else headDim = f.posInt("head_dim");
  const hiddenAct = f.str("hidden_act") ?? "silu";
  if (hiddenAct !== "silu") f.fail("hidden_act", 'is not supported (only "silu")');
  // Mistral and Qwen2 have fixed biases; their attention_bias / mlp_bias keys (if any) stay in `extra`.
  const attnBias = isLlama ? f.bool("attention_bias", false) : false;
  const qkvBias = isQwen2 || attnBias;
  const oBias = attnBias;
  const torchDtype = f.str("torch_dtype") ?? f.str("dtype");
  // Mistral applies sliding_window in every layer (null = full attention). Llama ignores the key; Qwen2 uses it only
  // with use_sliding_window (refused above). For those two it stays in `extra`.
  let slidingWindow: number | null = null;
  if (architecture === "MistralForCausalLM") {
    const sw = f.raw("sliding_window");
    slidingWindow = sw === undefined ? MISTRAL_DEFAULT_SLIDING_WINDOW : sw === null ? null : f.posInt("sliding_window");
  }

  return {
    architecture,
    architectures,
    modelType,
    hiddenSize,
    intermediateSize: f.posInt("intermediate_size"),
    numHiddenLayers: f.posInt("num_hidden_layers"),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    vocabSize: f.posInt("vocab_size"),
    rmsNormEps: f.posNumber("rms_norm_eps", 1e-6),
    ropeTheta: f.posNumber("rope_theta", 10000),
    ropeScaling: parseRopeScaling(f, source),
    maxPositionEmbeddings: f.posInt("max_position_embeddings", d.maxPositionEmbeddings),
    tieWordEmbeddings: f.bool("tie_word_embeddings", false),
    attentionBias: qkvBias || oBias,
    qkvBias,
    oBias,
    mlpBias: isLlama ? f.bool("mlp_bias", false) : false,
    hiddenAct: "silu",
    bosTokenId: f.tokenId("bos_token_id", d.bosTokenId),
    eosTokenId: f.tokenIds("eos_token_id", d.eosTokenId),
    padTokenId: f.tokenId("pad_token_id", null),
    torchDtype,
    slidingWindow,
    extra: f.rest(),
  };
}

/**
 * Reads `dir/config.json` (see {@link parseLlamaConfig}).
 * @throws Error naming the file when it is missing or invalid; for a PEFT adapter directory, one saying to load its
 *   base model with the adapter ({@link adapterDirNotModelMessage}).
 */
export function readLlamaConfig(dir: string): LlamaConfig {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) {
    const adapter = adapterDirAsModel(dir);
    throw new Error(adapter ? adapterDirNotModelMessage(adapter) : `${dir}: no config.json in the model directory`);
  }
  return parseLlamaConfig(readJson(file), file);
}

/**
 * The config.json object transformers would write for `cfg` (snake_case keys, sorted; `extra` keys kept).
 * Write it with `JSON.stringify(obj, null, 2)`.
 * @throws Error when the bias flags do not fit the architecture (Llama: qkvBias === oBias; Mistral: no biases;
 *   Qwen2: q/k/v biases only), attentionBias !== (qkvBias || oBias), or slidingWindow is set for a non-Mistral config.
 */
export function llamaConfigToJson(cfg: LlamaConfig): Record<string, unknown> {
  const arch = cfg.architecture;
  const bad = (what: string) => new Error(`llamaConfigToJson (${arch}): ${what}`);
  if (cfg.attentionBias !== (cfg.qkvBias || cfg.oBias)) throw bad("attentionBias must equal qkvBias || oBias");
  if (arch === "LlamaForCausalLM" && cfg.qkvBias !== cfg.oBias) throw bad("attention_bias covers q/k/v/o alike: qkvBias and oBias must match");
  if (arch === "MistralForCausalLM" && (cfg.qkvBias || cfg.oBias || cfg.mlpBias)) throw bad("Mistral has no biases");
  if (arch === "Qwen2ForCausalLM" && (!cfg.qkvBias || cfg.oBias || cfg.mlpBias)) throw bad("Qwen2 has q/k/v biases only");
  if (arch !== "MistralForCausalLM" && cfg.slidingWindow != null) throw bad("only Mistral configs carry slidingWindow");
  const rs = cfg.ropeScaling;
  const out: Record<string, unknown> = {
    ...cfg.extra,
    architectures: cfg.architectures.includes(arch) ? [...cfg.architectures] : [arch],
    model_type: cfg.modelType,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numHiddenLayers,
    num_attention_heads: cfg.numAttentionHeads,
    num_key_value_heads: cfg.numKeyValueHeads,
    vocab_size: cfg.vocabSize,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: rs && {
      rope_type: "llama3",
      factor: rs.factor,
      low_freq_factor: rs.lowFreqFactor,
      high_freq_factor: rs.highFreqFactor,
      original_max_position_embeddings: rs.originalMaxPositionEmbeddings,
    },
    max_position_embeddings: cfg.maxPositionEmbeddings,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    hidden_act: cfg.hiddenAct,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenId,
  };
  if (arch !== "Qwen2ForCausalLM" || cfg.headDim * cfg.numAttentionHeads !== cfg.hiddenSize) out["head_dim"] = cfg.headDim;
  if (arch === "MistralForCausalLM") out["sliding_window"] = cfg.slidingWindow ?? null;
  if (arch === "LlamaForCausalLM") {
    out["attention_bias"] = cfg.oBias;
    out["mlp_bias"] = cfg.mlpBias;
  }
  if (cfg.padTokenId !== null) out["pad_token_id"] = cfg.padTokenId;
  if (cfg.torchDtype !== null) out["torch_dtype"] = cfg.torchDtype;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
