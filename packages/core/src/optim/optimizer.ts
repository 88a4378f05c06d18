/**
 * The optimizer seam: updates a {@link ParamStore} in place from per-parameter gradients.
 * Implementations keep their state (moments) in flat float32 buffers beside the parameters.
 */
import type { ParamSource } from "../params/param-store.js";

/** A set of parameters sharing hyper-parameters (torch.optim param groups). */
export interface ParamGroup {
  /** Parameter names in this group. */
  params: string[];
  /** Learning rate (before the schedule's factor). */
  lr: number;
  /** Decoupled weight decay (AdamW) or L2 (SGD); default 0. */
  weightDecay?: number;
}

/** Gradients by parameter name; each the same length as the parameter. */
export type GradMap = ReadonlyMap<string, Float32Array>;

/** DI token of the Optimizer seam. */
export const Optimizer = Symbol.for("ortrl.Optimizer");
export interface Optimizer {
  readonly groups: readonly ParamGroup[];
  /** Number of steps taken so far. */
  readonly stepCount: number;
  /**
   * Applies one update in place. `lrFactor` multiplies every group's `lr` (the schedule's value).
   * Parameters without a gradient in `grads` are left untouched.
   */
  step(params: ParamSource, grads: GradMap, lrFactor?: number): void;
  /** State tensors for checkpoints (name -> data), plus the step count. */
  stateDict(): { step: number; tensors: Record<string, Float32Array> };
  /** Restores {@link stateDict} output. @throws Error on missing or mis-sized tensors. */
  loadStateDict(state: { step: number; tensors: Record<string, Float32Array> }): void;
}

/** Checks that every grouped parameter exists and is in at most one group. */
export function validateGroups(groups: readonly ParamGroup[], params?: ParamSource): void {
  const seen = new Set<string>();
  for (const g of groups) {
    if (!(g.lr >= 0)) throw new Error(`optimizer: learning rate must be >= 0, got ${g.lr}`);
    for (const p of g.params) {
      if (seen.has(p)) throw new Error(`optimizer: parameter '${p}' is in two groups`);
      seen.add(p);
      if (params && !params.has(p)) throw new Error(`optimizer: unknown parameter '${p}'`);
    }
  }
}
