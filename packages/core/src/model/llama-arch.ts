/**
 * The architecture numbers a Llama-family decoder needs (a subset of Hugging Face config.json,
 * camelCased). `readLlamaConfig` in llama-config.ts produces the full config.
 */
import type { Llama3RopeScaling } from "../nn/rotary.js";

export interface LlamaArch {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Key/value heads (grouped-query attention); divides numAttentionHeads. */
  numKeyValueHeads: number;
  /** Per-head dimension (HF `head_dim`, default hiddenSize / numAttentionHeads). */
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Llama 3.1 rotary scaling; null/absent for plain RoPE. */
  ropeScaling?: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  /** lm_head shares model.embed_tokens.weight (no lm_head.weight tensor). */
  tieWordEmbeddings: boolean;
  /**
   * Sliding-window attention (Mistral `sliding_window`, every layer): a query at position p attends only keys at
   * positions > p - slidingWindow, i.e. itself and the slidingWindow - 1 before it (transformers'
   * `sliding_window_overlay`). null/absent = full causal attention.
   */
  slidingWindow?: number | null;
  /** Biases on q/k/v projections (Qwen2, or Llama attention_bias). */
  qkvBias?: boolean;
  /** Bias on o_proj (Llama attention_bias). */
  oBias?: boolean;
  /** Biases on gate/up/down (Llama mlp_bias). */
  mlpBias?: boolean;
}

/** The linear modules of one decoder layer, with [out, in] shapes. */
export function layerLinears(a: LlamaArch): { name: string; out: number; in: number; bias: boolean }[] {
  const q = a.numAttentionHeads * a.headDim;
  const kv = a.numKeyValueHeads * a.headDim;
  return [
    { name: "self_attn.q_proj", out: q, in: a.hiddenSize, bias: !!a.qkvBias },
    { name: "self_attn.k_proj", out: kv, in: a.hiddenSize, bias: !!a.qkvBias },
    { name: "self_attn.v_proj", out: kv, in: a.hiddenSize, bias: !!a.qkvBias },
    { name: "self_attn.o_proj", out: a.hiddenSize, in: q, bias: !!a.oBias },
    { name: "mlp.gate_proj", out: a.intermediateSize, in: a.hiddenSize, bias: !!a.mlpBias },
    { name: "mlp.up_proj", out: a.intermediateSize, in: a.hiddenSize, bias: !!a.mlpBias },
    { name: "mlp.down_proj", out: a.hiddenSize, in: a.intermediateSize, bias: !!a.mlpBias },
  ];
}

/** Hugging Face tensor names and shapes of every parameter (lm_head absent when embeddings are tied). */
export function llamaParamSpecs(a: LlamaArch): { name: string; shape: number[] }[] {
  const specs: { name: string; shape: number[] }[] = [{ name: "model.embed_tokens.weight", shape: [a.vocabSize, a.hiddenSize] }];
  for (let i = 0; i < a.numHiddenLayers; i++) {
    const p = `model.layers.${i}.`;
    specs.push({ name: `${p}input_layernorm.weight`, shape: [a.hiddenSize] });
    for (const l of layerLinears(a)) {
      specs.push({ name: `${p}${l.name}.weight`, shape: [l.out, l.in] });
      if (l.bias) specs.push({ name: `${p}${l.name}.bias`, shape: [l.out] });
    }
    specs.push({ name: `${p}post_attention_layernorm.weight`, shape: [a.hiddenSize] });
  }
  specs.push({ name: "model.norm.weight", shape: [a.hiddenSize] });
  if (!a.tieWordEmbeddings) specs.push({ name: "lm_head.weight", shape: [a.vocabSize, a.hiddenSize] });
  return specs;
}

/** Validates head counts and sizes; throws naming the field. */
export function validateArch(a: LlamaArch, source = "config"): void {
  const pos = (k: keyof LlamaArch) => {
    const v = a[k];
    if (typeof v !== "number" || !(v > 0)) throw new Error(`${source}: ${String(k)} must be a positive number, got ${String(v)}`);
  };
  for (const k of ["hiddenSize", "intermediateSize", "numHiddenLayers", "numAttentionHeads", "numKeyValueHeads", "headDim", "vocabSize", "rmsNormEps", "ropeTheta", "maxPositionEmbeddings"] as const) pos(k);
  if (a.numAttentionHeads % a.numKeyValueHeads !== 0) {
    throw new Error(`${source}: num_attention_heads (${a.numAttentionHeads}) must be a multiple of num_key_value_heads (${a.numKeyValueHeads})`);
  }
  if (a.headDim % 2 !== 0) throw new Error(`${source}: head_dim must be even for rotary embeddings, got ${a.headDim}`);
  const w = a.slidingWindow;
  if (w !== undefined && w !== null && !(Number.isSafeInteger(w) && w > 0)) throw new Error(`${source}: sliding_window must be a positive integer or null, got ${String(w)}`);
}

/**
 * The attention window the graph must apply: `slidingWindow` when it is set and smaller than
 * max_position_embeddings, else undefined (positions are < max_position_embeddings, so a wider window never
 * masks anything and needs no mask ops).
 */
export function effectiveSlidingWindow(a: LlamaArch): number | undefined {
  const w = a.slidingWindow;
  return w !== undefined && w !== null && w < a.maxPositionEmbeddings ? w : undefined;
}
