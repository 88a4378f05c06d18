/**
 * The Llama architecture in GGUF as llama.cpp's converter (convert_hf_to_gguf.py, `LlamaModel`) writes it:
 * `llama.*` hyperparameter keys, tensor names (`blk.N.attn_q.weight`, ...), and the q/k row permutation.
 *
 * Hugging Face Llama checkpoints store q_proj/k_proj rows in the "rotate half" order (per head: all first halves
 * of the rotary pairs, then all second halves); llama.cpp's `llama` architecture rotates adjacent pairs, so rows
 * are permuted back: within each head, HF row `half * d/2 + i` becomes row `2 i + half` (d = head_dim).
 */
import { type LlamaConfig, llamaParamSpecs } from "@ortrl/core";
import { type GgufValue, gv } from "./gguf-file.js";

/** What to do with one Hugging Face tensor. */
export interface LlamaTensorPlan {
  hfName: string;
  ggufName: string;
  /** PyTorch shape ([out, in] for a weight, [n] for a norm or bias). */
  shape: number[];
  /** Heads whose rows are permuted to the interleaved rotary layout (q: attention heads, k: KV heads); 0 = none. */
  permuteHeads: number;
}

const LAYER_NAMES: Record<string, string> = {
  "input_layernorm": "attn_norm",
  "post_attention_layernorm": "ffn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};

/**
 * The GGUF name of a Hugging Face Llama tensor (`model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight`).
 * @throws Error for a name outside the Llama layout.
 */
export function ggufTensorName(hfName: string): string {
  if (hfName === "model.embed_tokens.weight") return "token_embd.weight";
  if (hfName === "model.norm.weight") return "output_norm.weight";
  if (hfName === "lm_head.weight") return "output.weight";
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const mapped = m ? LAYER_NAMES[m[2]!] : undefined;
  if (!m || !mapped) throw new Error(`no GGUF name for tensor '${hfName}'`);
  return `blk.${m[1]}.${mapped}.${m[3]}`;
}

/** Heads to permute for a tensor: q_proj by attention heads, k_proj by key/value heads, others none. */
export function permuteHeadsOf(hfName: string, config: LlamaConfig): number {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return config.numAttentionHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return config.numKeyValueHeads;
  return 0;
}

/** Every tensor of the model (tied lm_head left out, as llama.cpp reads `token_embd` for the output then). */
export function llamaTensorPlan(config: LlamaConfig): LlamaTensorPlan[] {
  return llamaParamSpecs(config).map((s) => ({ hfName: s.name, ggufName: ggufTensorName(s.name), shape: s.shape, permuteHeads: permuteHeadsOf(s.name, config) }));
}

/**
 * Permutes rows of a row-major [rows, cols] tensor (cols = 1 for a bias) from HF's rotate-half order to llama.cpp's
 * interleaved order: numpy `w.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)`.
 */
export function permuteRotaryRows(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const headRows = rows / heads;
  if (!Number.isInteger(headRows) || headRows % 2 !== 0) throw new Error(`cannot permute ${rows} rows into ${heads} heads of even size`);
  const half = headRows / 2;
  const out = new Float32Array(src.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headRows + s * half + i) * cols;
        const to = (h * headRows + 2 * i + s) * cols;
        out.set(src.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/**
 * Refuses what llama.cpp's `llama` architecture would compute differently from ortrl.
 * @returns warnings to show (e.g. the context length capped at Mistral's sliding window).
 * @throws Error naming config.json and the field: Qwen2 (llama.cpp's `qwen2` architecture is not written here),
 *   rope_scaling (Llama 3.1's rope_freqs tensor is not written).
 */
export function checkLlamaExportable(config: LlamaConfig, source: string): string[] {
  if (config.architecture === "Qwen2ForCausalLM") {
    throw new Error(`${source}: architectures ${JSON.stringify(config.architectures)}: GGUF export supports LlamaForCausalLM and MistralForCausalLM (llama.cpp's 'llama' architecture), not Qwen2`);
  }
  if (config.ropeScaling) {
    throw new Error(`${source}: rope_scaling (${config.ropeScaling.ropeType}) is not supported by the GGUF exporter yet (llama.cpp needs a rope_freqs tensor); only plain RoPE models export`);
  }
  const warnings: string[] = [];
  if (config.slidingWindow !== null && config.slidingWindow < config.maxPositionEmbeddings) {
    warnings.push(`${source}: sliding_window ${config.slidingWindow} < max_position_embeddings ${config.maxPositionEmbeddings}: llama.cpp's llama architecture attends to the whole context, so llama.context_length is set to ${config.slidingWindow}, where both agree`);
  }
  return warnings;
}

/** llama.cpp's `llama.*` hyperparameters for `config` (convert_hf_to_gguf.py's set_gguf_parameters). */
export function llamaMetadata(config: LlamaConfig): [string, GgufValue][] {
  const ctx = config.slidingWindow !== null ? Math.min(config.slidingWindow, config.maxPositionEmbeddings) : config.maxPositionEmbeddings;
  const entries: [string, GgufValue][] = [
    ["llama.block_count", gv.u32(config.numHiddenLayers)],
    ["llama.context_length", gv.u32(ctx)],
    ["llama.embedding_length", gv.u32(config.hiddenSize)],
    ["llama.feed_forward_length", gv.u32(config.intermediateSize)],
    ["llama.attention.head_count", gv.u32(config.numAttentionHeads)],
    ["llama.attention.head_count_kv", gv.u32(config.numKeyValueHeads)],
    ["llama.rope.freq_base", gv.f32(config.ropeTheta)],
    ["llama.attention.layer_norm_rms_epsilon", gv.f32(config.rmsNormEps)],
    ["llama.vocab_size", gv.u32(config.vocabSize)],
    ["llama.rope.dimension_count", gv.u32(config.headDim)],
  ];
  if (config.headDim * config.numAttentionHeads !== config.hiddenSize) {
    entries.push(["llama.attention.key_length", gv.u32(config.headDim)], ["llama.attention.value_length", gv.u32(config.headDim)]);
  }
  return entries;
}
