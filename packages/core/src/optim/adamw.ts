/**
 * AdamW with torch.optim.AdamW semantics (Loshchilov & Hutter 2019, "Decoupled Weight Decay
 * Regularization", Alg. 2): for each parameter at step t,
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Moments are float32 buffers the size of the trained parameters (allocated on first use).
 */
import type { ParamSource } from "../params/param-store.js";
import { type GradMap, type Optimizer, type ParamGroup, validateGroups } from "./optimizer.js";

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
}

export class AdamW implements Optimizer {
  readonly groups: ParamGroup[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  private t = 0;

  constructor(groups: ParamGroup[], opts: AdamWOptions = {}) {
    validateGroups(groups);
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
  }

  get stepCount(): number {
    return this.t;
  }

  step(params: ParamSource, grads: GradMap, lrFactor = 1): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const bc1 = 1 - b1 ** this.t;
    const bc2sqrt = Math.sqrt(1 - b2 ** this.t);
    for (const group of this.groups) {
      const lr = group.lr * lrFactor;
      const decay = 1 - lr * (group.weightDecay ?? 0);
      const stepSize = lr / bc1;
      for (const name of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        const p = params.get(name);
        if (g.length !== p.length) throw new Error(`AdamW: gradient of '${name}' has ${g.length} elements, parameter ${p.length}`);
        const m = this.moment(this.m, name, p.length);
        const v = this.moment(this.v, name, p.length);
        for (let i = 0; i < p.length; i++) {
          const gi = g[i]!;
          const mi = b1 * m[i]! + (1 - b1) * gi;
          const vi = b2 * v[i]! + (1 - b2) * gi * gi;
          m[i] = mi;
          v[i] = vi;
          p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2sqrt + eps);
        }
      }
    }
  }

  private moment(map: Map<string, Float32Array>, name: string, n: number): Float32Array {
    let a = map.get(name);
    if (!a) {
      a = new Float32Array(n);
      map.set(name, a);
    }
    return a;
  }

  stateDict(): { step: number; tensors: Record<string, Float32Array> } {
    const tensors: Record<string, Float32Array> = {};
    for (const [k, a] of this.m) tensors[`exp_avg.${k}`] = a;
    for (const [k, a] of this.v) tensors[`exp_avg_sq.${k}`] = a;
    return { step: this.t, tensors };
  }

  loadStateDict(state: { step: number; tensors: Record<string, Float32Array> }): void {
    this.t = state.step;
    this.m.clear();
    this.v.clear();
    for (const [k, a] of Object.entries(state.tensors)) {
      if (k.startsWith("exp_avg.")) this.m.set(k.slice(8), Float32Array.from(a));
      else if (k.startsWith("exp_avg_sq.")) this.v.set(k.slice(11), Float32Array.from(a));
      else throw new Error(`AdamW.loadStateDict: unexpected tensor '${k}'`);
    }
  }
}
