/**
 * A Llama-family causal LM bound to parameters and a runtime: forward (logits, loss, per-token
 * log-probs, scored branched rows) and KV-cache generation. A CausalLM is immutable: `withAdapter` /
 * `withoutAdapter` return views that share its parameters, runtime and graph caches (no copy of the
 * weights). Graphs are built once per variant (base, or base + adapter) and their sessions cached.
 */
import { Graph, type Value } from "../ir/graph.js";
import { slice, squeeze } from "../ops/shape-ops.js";
import type { ParamStore } from "../params/param-store.js";
import type { Runtime, TensorData } from "../runtime/runtime.js";
import { causalLmLoss } from "../nn/losses.js";
import type { LlamaArch } from "./llama-arch.js";
import { type LoraPlacement, LlamaGraph } from "./llama.js";
import { type TokenBatch, batchFeeds } from "./batch.js";
import type { ScoreBatch } from "./branched.js";
import { declareScoreInputs, scoreFeeds, scoreTokens } from "./score-graph.js";

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

/** A decode graph with frozen base weights embedded, and a checksum of those weights to detect changes. */
interface FrozenDecode {
  decode: GenerationGraphs["decode"];
  fingerprint: Int32Array;
}

/** Graph caches shared by every view of one model. */
interface GraphCaches {
  forward: Map<string, ForwardGraph>;
  score: Map<string, { lg: LlamaGraph; logps: Value }>;
  generation: Map<string, GenerationGraphs>;
  frozenDecode: Map<string, FrozenDecode>;
}

/**
 * Largest total of base weights embedded in a decode session (bytes): a ModelProto must stay under 2 GiB, and
 * the session holds a packed copy of them. Larger models generate with weights fed as inputs.
 */
export const MAX_FROZEN_BYTES = 1.5 * 2 ** 30;



export class CausalLM {
  /** The attached LoRA adapter, or null (base model). */
  readonly adapter: AttachedAdapter | null;
  /** Base tensors fed with other values than `params` (e.g. modules_to_save originals of a reference model). */
  readonly overrides: ReadonlyMap<string, Float32Array>;
  /** Base tensors that stay graph inputs in a frozen-base view (trained ones); null when this view is not frozen. */
  readonly frozenExcept: ReadonlySet<string> | null;
  private readonly caches: GraphCaches;

  constructor(
    readonly arch: LlamaArch,
    readonly params: ParamStore,
    readonly runtime: Runtime,
    opts: { adapter?: AttachedAdapter | null; overrides?: ReadonlyMap<string, Float32Array>; caches?: GraphCaches; frozenExcept?: ReadonlySet<string> | null } = {},
  ) {
    this.adapter = opts.adapter ?? null;
    this.overrides = opts.overrides ?? new Map();
    this.frozenExcept = opts.frozenExcept ?? null;
    this.caches = opts.caches ?? { forward: new Map(), score: new Map(), generation: new Map(), frozenDecode: new Map() };
  }

  /** A view computing with `adapter` attached (same parameters, runtime and graph caches). */
  withAdapter(adapter: AttachedAdapter | null, overrides: ReadonlyMap<string, Float32Array> = new Map()): CausalLM {
    return new CausalLM(this.arch, this.params, this.runtime, { adapter, overrides, caches: this.caches, frozenExcept: this.frozenExcept });
  }

  /**
   * A view whose single-token decode sessions (generation) hold the base weights as constants, which
   * onnxruntime pre-packs for its matmuls once: decode steps read the weights at close to memory bandwidth
   * instead of re-packing every weight matrix per token (BENCHMARKS.md, "Generation"). Use it while the base
   * weights do not change: inference, LoRA training (the base is frozen). Tensors named in `trainable`, the
   * adapter's modules_to_save and overridden tensors stay inputs. The weights are snapshotted when the decode
   * session is built; before every generate() a checksum of all of them (one pass, about 0.1 s per 540 MB) is
   * compared with the snapshot's and, if they changed, the session is rebuilt (correct, but costs a session build). Models whose frozen weights exceed
   * {@link MAX_FROZEN_BYTES} generate as without this view. Costs a packed copy of the weights in the session
   * (bytes: about the frozen weights' size).
   */
  withFrozenBase(trainable: Iterable<string> = []): CausalLM {
    const except = new Set(trainable);
    return new CausalLM(this.arch, this.params, this.runtime, { adapter: this.adapter, overrides: this.overrides, caches: this.caches, frozenExcept: except });
  }

  /**
   * The base model of this view: no adapter, and base tensors the adapter trains (modules_to_save)
   * fed with their values from before the adapter was attached.
   */
  withoutAdapter(): CausalLM {
    return this.withAdapter(null, this.adapter?.originals ?? new Map());
  }

  private variantKey(): string {
    const a = this.adapter;
    if (!a) return "base";
    return `lora:${a.placement.r}:${a.placement.scaling}:${a.placement.dropout ? 1 : 0}:${[...a.placement.modules].join(",")}`;
  }

  private placementNoDropout(): LoraPlacement | undefined {
    const a = this.adapter;
    return a ? { ...a.placement, dropout: false } : undefined;
  }

  /** Weights fed to a graph: base parameters (with overrides) plus the adapter's. */
  weightFeeds(lg: LlamaGraph): Record<string, TensorData> {
    const feeds = this.params.feeds(lg.weights.keys());
    const a = this.adapter;
    if (a && lg.loraWeights.size) Object.assign(feeds, a.params.feeds(lg.loraWeights.keys()));
    for (const [name, data] of this.overrides) if (feeds[name]) feeds[name] = { data, dims: this.params.shape(name) };
    return feeds;
  }

  /** The full-sequence forward graph of the current variant. */
  forwardGraph(): ForwardGraph {
    const key = this.variantKey();
    let fg = this.caches.forward.get(key);
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
      this.caches.forward.set(key, fg);
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

  /**
   * log p(target | its prefix) of every scored token of packed branched rows (see model/branched.ts),
   * with the logits divided by `temperature` (default 1).
   * @returns [B, N] float32, row-major; 0 at padding.
   */
  async scoreLogps(sb: ScoreBatch, opts: { temperature?: number } = {}): Promise<Float32Array> {
    const temperature = opts.temperature ?? 1;
    const key = `${this.variantKey()}:t${temperature}`;
    let sg = this.caches.score.get(key);
    if (!sg) {
      const lg = new LlamaGraph(new Graph(), this.arch, this.placementNoDropout());
      sg = { lg, logps: scoreTokens(lg, declareScoreInputs(lg.graph), temperature).logps };
      this.caches.score.set(key, sg);
    }
    const exe = await this.runtime.compile(sg.lg.graph, { logps: sg.logps });
    const out = await exe.run({ ...this.weightFeeds(sg.lg), ...scoreFeeds(sb) });
    return out.logps!.data as Float32Array;
  }

  /**
   * Prefill and decode graphs of the current variant. In a {@link withFrozenBase} view the decode graph embeds
   * the frozen base weights (rebuilt, and the stale sessions released, when they changed since it was built).
   */
  async generationGraphs(): Promise<GenerationGraphs> {
    const key = this.variantKey();
    let gg = this.caches.generation.get(key);
    if (!gg) {
      gg = { prefill: this.buildPrefill(), decode: this.buildDecode() };
      this.caches.generation.set(key, gg);
    }
    const frozen = this.frozenTensors();
    if (!frozen) return gg;
    const fkey = `${key}|${[...frozen.keys()].length}|${[...this.frozenExcept!].sort().join(",")}|${[...this.overrides.keys()].sort().join(",")}`;
    const fingerprint = weightChecksum(frozen);
    let fd = this.caches.frozenDecode.get(fkey);
    if (fd && !sameValues(fd.fingerprint, fingerprint)) {
      this.caches.frozenDecode.delete(fkey);
      await this.runtime.release(fd.decode.lg.graph);
      fd = undefined;
    }
    if (!fd) {
      fd = { decode: this.buildDecode(frozen), fingerprint };
      this.caches.frozenDecode.set(fkey, fd);
    }
    return { prefill: gg.prefill, decode: fd.decode };
  }

  /** Base tensors a frozen-base view embeds (null: not frozen, or over {@link MAX_FROZEN_BYTES}). */
  private frozenTensors(): Map<string, Float32Array> | null {
    if (!this.frozenExcept) return null;
    const except = new Set([...this.frozenExcept, ...this.overrides.keys(), ...(this.adapter?.originals?.keys() ?? [])]);
    const out = new Map<string, Float32Array>();
    let bytes = 0;
    for (const name of this.params.names) {
      if (except.has(name)) continue;
      const data = this.params.get(name);
      out.set(name, data);
      bytes += data.byteLength;
    }
    return out.size === 0 || bytes > MAX_FROZEN_BYTES ? null : out;
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

  private buildDecode(frozen?: ReadonlyMap<string, Float32Array>): GenerationGraphs["decode"] {
    const a = this.arch;
    const lg = new LlamaGraph(new Graph(), a, this.placementNoDropout(), frozen);
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

/**
 * A checksum of every value of every tensor (two running sums of the float bits, Fletcher-style, per tensor):
 * any in-place change of a frozen weight changes it, at one pass over the weights per generate() call.
 */
function weightChecksum(tensors: ReadonlyMap<string, Float32Array>): Int32Array {
  const out = new Int32Array(tensors.size * 2);
  let o = 0;
  for (const t of tensors.values()) {
    const bits = new Int32Array(t.buffer, t.byteOffset, t.length);
    let a = 0;
    let b = 0;
    for (let i = 0; i < bits.length; i++) {
      a = (a + bits[i]!) | 0;
      b = (b + a) | 0;
    }
    out[o++] = a;
    out[o++] = b;
  }
  return out;
}

function sameValues(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
