/**
 * A Llama-family causal LM bound to parameters and a runtime: forward (logits, loss, per-token
 * log-probs) and KV-cache generation. Graphs are built once per variant (base, or base + adapter)
 * and their sessions cached.
 */
import { Graph, type Value } from "../ir/graph.js";
import { slice, squeeze } from "../ops/shape-ops.js";
import type { ParamStore } from "../params/param-store.js";
import type { Runtime, TensorData } from "../runtime/runtime.js";
import { causalLmLoss } from "../nn/losses.js";
import type { LlamaArch } from "./llama-arch.js";
import { type LoraPlacement, LlamaGraph } from "./llama.js";
import { type TokenBatch, batchFeeds } from "./batch.js";

/** A LoRA adapter attached to a model: where it sits and its weights (`<module>.lora_A.weight`, ...). */
export interface AttachedAdapter {
  placement: LoraPlacement;
  params: ParamStore;
  /** Pre-adapter values of base tensors the adapter replaces (modules_to_save), fed when disabled. */
  originals?: ReadonlyMap<string, Float32Array>;
}

/** Graph values of a full-sequence forward. */
export interface ForwardGraph {
  lg: LlamaGraph;
  /** [B, T, V] */
  logits: Value;
  /** Scalar: sum of -log p over label tokens (labels shifted by one, -100 ignored). */
  lossSum: Value;
  /** Scalar: number of label tokens. */
  count: Value;
  /** [B, T-1] log p(labels[t+1] | prefix), 0 where ignored. */
  tokenLogps: Value;
}

/** Graph values of generation: prefill (whole prompt) and decode (one token against a cache). */
export interface GenerationGraphs {
  prefill: { lg: LlamaGraph; lastLogits: Value; keys: Value[]; values: Value[] };
  decode: { lg: LlamaGraph; logits: Value; keys: Value[]; values: Value[] };
}

export class CausalLM {
  /** Attached LoRA adapter, if any. */
  adapter: AttachedAdapter | null = null;
  /** When false, the adapter is bypassed (the reference model of DPO/GRPO). */
  adapterEnabled = true;
  private readonly forwardGraphs = new Map<string, ForwardGraph>();
  private readonly generationGraphCache = new Map<string, GenerationGraphs>();

  constructor(
    readonly arch: LlamaArch,
    readonly params: ParamStore,
    readonly runtime: Runtime,
  ) {}

  /** The adapter in effect for forward passes (null when none or disabled). */
  get activeAdapter(): AttachedAdapter | null {
    return this.adapterEnabled ? this.adapter : null;
  }

  private variantKey(): string {
    const a = this.activeAdapter;
    if (!a) return "base";
    return `lora:${a.placement.r}:${a.placement.scaling}:${a.placement.dropout ? 1 : 0}:${[...a.placement.modules].join(",")}`;
  }

  private placementNoDropout(): LoraPlacement | undefined {
    const a = this.activeAdapter;
    return a ? { ...a.placement, dropout: false } : undefined;
  }

  /** Weights fed to a graph: base parameters plus the active adapter's. */
  weightFeeds(lg: LlamaGraph): Record<string, TensorData> {
    const feeds = this.params.feeds(lg.weights.keys());
    const a = this.activeAdapter;
    if (a && lg.loraWeights.size) Object.assign(feeds, a.params.feeds(lg.loraWeights.keys()));
    if (!a && this.adapter?.originals) {
      for (const [name, data] of this.adapter.originals) if (feeds[name]) feeds[name] = { data, dims: this.params.shape(name) };
    }
    return feeds;
  }

  /** The full-sequence forward graph of the current variant. */
  forwardGraph(): ForwardGraph {
    const key = this.variantKey();
    let fg = this.forwardGraphs.get(key);
    if (!fg) {
      const lg = new LlamaGraph(new Graph(), this.arch, this.placementNoDropout());
      const g = lg.graph;
      const ids = g.input("input_ids", "int64", ["batch", "seq"]);
      const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
      const pos = g.input("position_ids", "int64", ["batch", "seq"]);
      const labels = g.input("labels", "int64", ["batch", "seq"]);
      const { hidden } = lg.decoder(ids, pos, mask);
      const logits = lg.logits(hidden);
      const loss = causalLmLoss(lg.logits(LlamaGraph.shiftHidden(hidden)), labels, true);
      fg = { lg, logits, lossSum: loss.lossSum, count: loss.count, tokenLogps: loss.tokenLogps };
      this.forwardGraphs.set(key, fg);
    }
    return fg;
  }

  /** Logits [B, T, V] for a batch (float32, row-major). */
  async logits(batch: TokenBatch): Promise<Float32Array> {
    const fg = this.forwardGraph();
    const exe = await this.runtime.compile(fg.lg.graph, { logits: fg.logits });
    const out = await exe.run({ ...this.weightFeeds(fg.lg), ...batchFeeds(batch) });
    return out.logits!.data as Float32Array;
  }

  /**
   * Summed causal-LM loss and token count over a batch with labels (labels[t+1] scored from position t).
   * @throws Error when the batch has no labels.
   */
  async lossSum(batch: TokenBatch): Promise<{ lossSum: number; count: number }> {
    if (!batch.labels) throw new Error("CausalLM.lossSum: batch has no labels");
    const fg = this.forwardGraph();
    const exe = await this.runtime.compile(fg.lg.graph, { loss_sum: fg.lossSum, count: fg.count });
    const out = await exe.run({ ...this.weightFeeds(fg.lg), ...batchFeeds(batch) });
    return { lossSum: (out.loss_sum!.data as Float32Array)[0]!, count: (out.count!.data as Float32Array)[0]! };
  }

  /** Per-token log-probs [B, T-1] of labels[:, 1:] (0 where -100). */
  async tokenLogps(batch: TokenBatch): Promise<Float32Array> {
    if (!batch.labels) throw new Error("CausalLM.tokenLogps: batch has no labels");
    const fg = this.forwardGraph();
    const exe = await this.runtime.compile(fg.lg.graph, { logps: fg.tokenLogps });
    const out = await exe.run({ ...this.weightFeeds(fg.lg), ...batchFeeds(batch) });
    return out.logps!.data as Float32Array;
  }

  /** Prefill and decode graphs of the current variant. */
  generationGraphs(): GenerationGraphs {
    const key = this.variantKey();
    let gg = this.generationGraphCache.get(key);
    if (!gg) {
      gg = { prefill: this.buildPrefill(), decode: this.buildDecode() };
      this.generationGraphCache.set(key, gg);
    }
    return gg;
  }

  private buildPrefill(): GenerationGraphs["prefill"] {
    const lg = new LlamaGraph(new Graph(), this.arch, this.placementNoDropout());
    const g = lg.graph;
    const ids = g.input("input_ids", "int64", ["batch", "seq"]);
    const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
    const pos = g.input("position_ids", "int64", ["batch", "seq"]);
    const out = lg.decoder(ids, pos, mask);
    const last = slice(out.hidden, [1], [-1], [2 ** 62]);
    return { lg, lastLogits: squeeze(lg.logits(last), [1]), keys: out.presentKeys, values: out.presentValues };
  }

  private buildDecode(): GenerationGraphs["decode"] {
    const a = this.arch;
    const lg = new LlamaGraph(new Graph(), a, this.placementNoDropout());
    const g = lg.graph;
    const ids = g.input("input_ids", "int64", ["batch", 1]);
    const mask = g.input("attention_mask", "int64", ["batch", 1]);
    const pos = g.input("position_ids", "int64", ["batch", 1]);
    const cachePos = g.input("cache_position_ids", "int64", ["batch", "cache"]);
    const cacheSeg = g.input("cache_attention_mask", "int64", ["batch", "cache"]);
    const shape = ["batch", a.numKeyValueHeads, "cache", a.headDim];
    const keys: Value[] = [];
    const values: Value[] = [];
    for (let i = 0; i < a.numHiddenLayers; i++) {
      keys.push(g.input(`past_key.${i}`, "float32", shape));
      values.push(g.input(`past_value.${i}`, "float32", shape));
    }
    const out = lg.decoder(ids, pos, mask, { keys, values, positions: cachePos, segments: cacheSeg });
    return { lg, logits: squeeze(lg.logits(out.hidden), [1]), keys: out.presentKeys, values: out.presentValues };
  }
}
