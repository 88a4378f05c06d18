/**
 * Merging a LoRA adapter into its base weights (PEFT merge_and_unload): W <- W + scaling * B A,
 * and the inverse (unmerge): W <- W - scaling * B A. Computed in float64 accumulators per row.
 * {@link mergedWeights} gives the merged tensors without changing the model (for saving it).
 */
import { assertFinite } from "../model/weight-checks.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { ParamSource, ParamStore } from "../params/param-store.js";
import type { LoraAdapter } from "./adapter.js";

type Mergeable = Pick<LoraAdapter, "placement" | "params">;

/**
 * out = W + s * B A for one module: W and out [outF, inF] row-major (out may be W), A [r, inF], B [outF, r];
 * B A accumulated in float64 per row, then added to W and rounded to float32 once.
 */
function addDelta(W: Float32Array, out: Float32Array, A: Float32Array, B: Float32Array, shape: readonly number[], r: number, s: number): void {
  const [rows, inp] = shape as [number, number];
  const acc = new Float64Array(inp);
  for (let o = 0; o < rows; o++) {
    acc.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k]!;
      if (b === 0) continue;
      const off = k * inp;
      for (let i = 0; i < inp; i++) acc[i]! += b * A[off + i]!;
    }
    const wOff = o * inp;
    for (let i = 0; i < inp; i++) out[wOff + i] = W[wOff + i]! + s * acc[i]!;
  }
}

function applyDelta(base: ParamStore, adapter: Mergeable, sign: 1 | -1): void {
  const { r, scaling, modules } = adapter.placement;
  for (const m of modules) {
    const W = base.get(`${m}.weight`);
    addDelta(W, W, adapter.params.get(`${m}.lora_A.weight`), adapter.params.get(`${m}.lora_B.weight`), base.shape(`${m}.weight`), r, sign * scaling);
  }
}

/** Adds the adapter's update into `base` in place (the adapter stays as it is: see {@link mergeAndUnload}). */
export function mergeLora(base: ParamStore, adapter: Mergeable): void {
  applyDelta(base, adapter, 1);
}

/** Removes a previously merged update from `base` in place. */
export function unmergeLora(base: ParamStore, adapter: Mergeable): void {
  applyDelta(base, adapter, -1);
}

/**
 * PEFT's merge_and_unload: folds `lm`'s adapter into its base weights (in place, in the shared
 * parameters) and returns the adapter-free view, which computes what the adapted model computed.
 * @throws Error when `lm` has no adapter.
 */
export function mergeAndUnload(lm: CausalLM): CausalLM {
  if (!lm.adapter) throw new Error("mergeAndUnload: no adapter is attached");
  mergeLora(lm.params, lm.adapter);
  return lm.withAdapter(null);
}

/**
 * The weights `lm` computes with, its adapter merged (what {@link mergeAndUnload} would leave in the parameters),
 * produced tensor by tensor without changing `lm`: `get(name)` returns a new float32 array W + scaling * B A for the
 * weight of an adapted module ([out, in], row-major, the same arithmetic as {@link mergeLora}), and otherwise the
 * tensor `lm` feeds (its parameter, or its override) itself, which must not be written to. Names and shapes are the
 * base model's (Hugging Face names; no lm_head.weight with tied embeddings). modules_to_save tensors are already
 * in the parameters of a model with the adapter attached.
 * @throws Error when `lm` has no adapter, or (from `get`) for an unknown name.
 */
export function mergedWeights(lm: CausalLM): Pick<ParamSource, "names" | "shape" | "get"> {
  const adapter = lm.adapter;
  if (!adapter) throw new Error("mergedWeights: no adapter is attached (nothing to merge)");
  const { r, scaling, modules } = adapter.placement;
  const base = (name: string) => lm.overrides.get(name) ?? lm.params.get(name);
  return {
    get names() {
      return lm.params.names;
    },
    shape: (name) => lm.params.shape(name),
    get: (name) => {
      const W = base(name);
      const m = name.endsWith(".weight") ? name.slice(0, -".weight".length) : null;
      if (m === null || !modules.has(m)) return W;
      const out = new Float32Array(W.length);
      addDelta(W, out, adapter.params.get(`${m}.lora_A.weight`), adapter.params.get(`${m}.lora_B.weight`), lm.params.shape(name), r, scaling);
      // Finite A and B can still overflow float32 in W + scaling * B A: never write an Inf weight.
      assertFinite(out, "the merged model (base + adapter)", name);
      return out;
    },
  };
}
