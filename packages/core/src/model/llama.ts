/**
 * The Llama decoder (HF LlamaForCausalLM) as a graph over the IR: embeddings, RMSNorm, rotary
 * embeddings, grouped-query attention with causal/padding/packing (and Mistral sliding-window) masks, SwiGLU MLP, final norm,
 * LM head. Weights are graph inputs named as in Hugging Face checkpoints (fed zero-copy from a
 * ParamStore). Optional LoRA adapters add inputs named `<module>.lora_A.weight` / `.lora_B.weight`.
 *
 * Shapes: B (batch) and T (sequence) may be symbolic; the key length of a cached forward is P + T.
 */
import { Graph, type Value } from "../ir/graph.js";
import type { Dim } from "../ir/shape.js";
import { add } from "../ops/binary.js";
import { gather } from "../ops/index-ops.js";
import { matmulT } from "../ops/matmul.js";
import { concat, slice } from "../ops/shape-ops.js";
import { applyRotary, rotaryTables } from "../nn/rotary.js";
import { attentionMask, groupedAttention, maskBias, mergeHeads, splitHeads } from "../nn/attention.js";
import { type LoraWeights, linear } from "../nn/linear.js";
import { rmsNorm } from "../nn/rms-norm.js";
import { swiglu } from "../nn/mlp.js";
import { type LlamaArch, effectiveSlidingWindow, layerLinears, llamaParamSpecs, validateArch } from "./llama-arch.js";

/** LoRA placement for a graph: which modules get adapters and their rank/scaling. */
export interface LoraPlacement {
  r: number;
  /** lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA. */
  scaling: number;
  /** Full module names, e.g. "model.layers.0.self_attn.q_proj". */
  modules: ReadonlySet<string>;
  /** Feed an inverted-dropout mask input `<module>.lora_dropout_mask` per module. */
  dropout?: boolean;
}

/** Past keys/values of a cached forward: per layer [B, KV, P, D], with their positions/segments [B, P]. */
export interface PastKeyValues {
  keys: Value[];
  values: Value[];
  positions: Value;
  segments: Value;
}

export interface DecoderOutput {
  /** Final-norm hidden states [B, T, hidden]. */
  hidden: Value;
  /** This call's rotated keys / values per layer, [B, KV, T, D]. */
  presentKeys: Value[];
  presentValues: Value[];
}

export class LlamaGraph {
  /** Base weights by HF name (graph inputs). */
  readonly weights = new Map<string, Value>();
  /** Base weights embedded as constants (ONNX initializers), by HF name; see the `frozen` constructor argument. */
  readonly frozenWeights = new Map<string, Value>();
  /** LoRA weights by name `<module>.lora_A.weight` / `.lora_B.weight` (graph inputs). */
  readonly loraWeights = new Map<string, Value>();
  readonly dropoutMasks = new Map<string, Value>();

  /**
   * @param frozen base weights (float32, HF [out, in] layout) to embed as constants instead of graph inputs:
   *   onnxruntime then pre-packs their matmul operands once at session creation (a single-token decode step
   *   runs about 2x faster, BENCHMARKS.md) at the cost of a packed copy inside the session.
   */
  constructor(
    readonly graph: Graph,
    readonly arch: LlamaArch,
    readonly lora?: LoraPlacement,
    frozen?: ReadonlyMap<string, Float32Array>,
  ) {
    validateArch(arch);
    for (const s of llamaParamSpecs(arch)) {
      const data = frozen?.get(s.name);
      if (data) this.frozenWeights.set(s.name, graph.constant(data, "float32", s.shape));
      else this.weights.set(s.name, graph.input(s.name, "float32", s.shape));
    }
    if (lora) {
      for (let i = 0; i < arch.numHiddenLayers; i++) {
        for (const l of layerLinears(arch)) {
          const m = `model.layers.${i}.${l.name}`;
          if (!lora.modules.has(m)) continue;
          this.loraWeights.set(`${m}.lora_A.weight`, graph.input(`${m}.lora_A.weight`, "float32", [lora.r, l.in]));
          this.loraWeights.set(`${m}.lora_B.weight`, graph.input(`${m}.lora_B.weight`, "float32", [l.out, lora.r]));
        }
      }
    }
  }

  private w(name: string): Value {
    const v = this.weights.get(name) ?? this.frozenWeights.get(name);
    if (!v) throw new Error(`LlamaGraph: no weight '${name}'`);
    return v;
  }

  private proj(x: Value, module: string, batchDims: readonly Dim[]): Value {
    const bias = this.weights.get(`${module}.bias`) ?? this.frozenWeights.get(`${module}.bias`);
    let lora: LoraWeights | undefined;
    const a = this.loraWeights.get(`${module}.lora_A.weight`);
    if (a && this.lora) {
      let dropoutMask: Value | undefined;
      if (this.lora.dropout) {
        const name = `${module}.lora_dropout_mask`;
        dropoutMask = this.dropoutMasks.get(name);
        if (!dropoutMask) {
          dropoutMask = this.graph.input(name, "float32", [...batchDims, x.shape[x.rank - 1]!]);
          this.dropoutMasks.set(name, dropoutMask);
        }
      }
      lora = { a, b: this.loraWeights.get(`${module}.lora_B.weight`)!, scaling: this.lora.scaling, dropoutMask };
    }
    return linear(x, this.w(`${module}.weight`), bias, lora);
  }

  /**
   * Runs the decoder stack.
   * @param inputIds [B, T] int64 token ids.
   * @param positions [B, T] int64 position ids (< max_position_embeddings).
   * @param segments [B, T] int64: 0 = padding, equal non-zero ids attend to each other (attention_mask).
   * @param past cached keys/values of earlier positions (generation).
   * @param prefixSegments [B, T] int64: a segment each token also attends to (branched rows; 0 = none).
   */
  decoder(inputIds: Value, positions: Value, segments: Value, past?: PastKeyValues, prefixSegments?: Value): DecoderOutput {
    const a = this.arch;
    const [B, T] = inputIds.shape;
    const { cos, sin } = rotaryTables(positions, a.headDim, a.ropeTheta, a.maxPositionEmbeddings, a.ropeScaling);
    const kPos = past ? concat([past.positions, positions], 1) : positions;
    const kSeg = past ? concat([past.segments, segments], 1) : segments;
    const mask = attentionMask(positions, segments, kPos, kSeg, prefixSegments, effectiveSlidingWindow(a));
    const bias = maskBias(mask, a.numKeyValueHeads, a.numAttentionHeads / a.numKeyValueHeads);
    let x = gather(this.w("model.embed_tokens.weight"), inputIds);
    const presentKeys: Value[] = [];
    const presentValues: Value[] = [];
    for (let i = 0; i < a.numHiddenLayers; i++) {
      const p = `model.layers.${i}.`;
      const h = rmsNorm(x, this.w(`${p}input_layernorm.weight`), a.rmsNormEps);
      const q = applyRotary(splitHeads(this.proj(h, `${p}self_attn.q_proj`, [B!, T!]), a.numAttentionHeads, a.headDim), cos, sin);
      const k = applyRotary(splitHeads(this.proj(h, `${p}self_attn.k_proj`, [B!, T!]), a.numKeyValueHeads, a.headDim), cos, sin);
      const v = splitHeads(this.proj(h, `${p}self_attn.v_proj`, [B!, T!]), a.numKeyValueHeads, a.headDim);
      presentKeys.push(k);
      presentValues.push(v);
      const kAll = past ? concat([past.keys[i]!, k], 2) : k;
      const vAll = past ? concat([past.values[i]!, v], 2) : v;
      const attn = mergeHeads(groupedAttention(q, kAll, vAll, bias));
      x = add(x, this.proj(attn, `${p}self_attn.o_proj`, [B!, T!]));
      const h2 = rmsNorm(x, this.w(`${p}post_attention_layernorm.weight`), a.rmsNormEps);
      const mlp = swiglu(this.proj(h2, `${p}mlp.gate_proj`, [B!, T!]), this.proj(h2, `${p}mlp.up_proj`, [B!, T!]));
      x = add(x, this.proj(mlp, `${p}mlp.down_proj`, [B!, T!]));
    }
    return { hidden: rmsNorm(x, this.w("model.norm.weight"), a.rmsNormEps), presentKeys, presentValues };
  }

  /** LM head: hidden [B, T, hidden] -> logits [B, T, vocab] (tied to embed_tokens when configured). */
  logits(hidden: Value): Value {
    const w = this.arch.tieWordEmbeddings ? this.w("model.embed_tokens.weight") : this.w("lm_head.weight");
    return matmulT(hidden, w);
  }

  /** hidden[:, :-1]: the positions whose next token is scored by the causal-LM loss. */
  static shiftHidden(hidden: Value): Value {
    return slice(hidden, [1], [0], [-1]);
  }

  /**
   * The weight inputs (base or LoRA) with these names, e.g. a policy's trainable tensors to differentiate.
   * @throws Error naming a tensor that is not a weight of this graph.
   */
  weightValues(names: readonly string[]): Value[] {
    return names.map((n) => {
      const v = this.weights.get(n) ?? this.loraWeights.get(n);
      if (!v) throw new Error(`LlamaGraph: '${n}' is not a weight of this model`);
      return v;
    });
  }

  /** Graph inputs of all trainable-or-frozen weights, base then LoRA. */
  allWeightInputs(): Value[] {
    return [...this.weights.values(), ...this.loraWeights.values()];
  }

  static create(arch: LlamaArch, lora?: LoraPlacement): LlamaGraph {
    return new LlamaGraph(new Graph(), arch, lora);
  }
}
