/**
 * Merging a LoRA adapter into its base weights (PEFT merge_and_unload): W <- W + scaling * B A,
 * and the inverse (unmerge): W <- W - scaling * B A. Computed in float64 accumulators per row.
 */
import type { CausalLM } from "../model/causal-lm.js";
import type { ParamStore } from "../params/param-store.js";
import type { LoraAdapter } from "./adapter.js";

type Mergeable = Pick<LoraAdapter, "placement" | "params">;

function applyDelta(base: ParamStore, adapter: Mergeable, sign: 1 | -1): void {
  const { r, scaling, modules } = adapter.placement;
  for (const m of modules) {
    const W = base.get(`${m}.weight`);
    const A = adapter.params.get(`${m}.lora_A.weight`);
    const B = adapter.params.get(`${m}.lora_B.weight`);
    const [out, inp] = base.shape(`${m}.weight`) as [number, number];
    const acc = new Float64Array(inp);
    for (let o = 0; o < out; o++) {
      acc.fill(0);
      for (let k = 0; k < r; k++) {
        const b = B[o * r + k]!;
        if (b === 0) continue;
        const off = k * inp;
        for (let i = 0; i < inp; i++) acc[i]! += b * A[off + i]!;
      }
      const wOff = o * inp;
      const s = sign * scaling;
      for (let i = 0; i < inp; i++) W[wOff + i] = W[wOff + i]! + s * acc[i]!;
    }
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
