/**
 * AdamW with torch.optim.AdamW semantics (Loshchilov & Hutter 2019, "Decoupled Weight Decay
 * Regularization", Alg. 2): for each parameter at step t,
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Moments are float32, allocated on first use. The default backend is a WebAssembly SIMD kernel
 * (float32 arithmetic, as torch's); `backend: "js"` uses a scalar loop with float64 intermediates.
 */
import type { ParamSource } from "../params/param-store.js";
import { AdamWKernel, type MomentSlot } from "./kernels/adamw-kernel.js";
import { type GradMap, type Optimizer, type ParamGroup, validateGroups } from "./optimizer.js";

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  /** "wasm" (SIMD kernel, default where available) or "js". */
  backend?: "wasm" | "js";
}

export class AdamW implements Optimizer {
  readonly groups: ParamGroup[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly kernel: AdamWKernel | null;
  private readonly slots = new Map<string, MomentSlot>();
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;

  constructor(groups: ParamGroup[], opts: AdamWOptions = {}) {
    validateGroups(groups);
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.kernel = opts.backend === "js" ? null : AdamWKernel.tryCreate();
  }

  get stepCount(): number {
    return this.t;
  }

  /** Which implementation runs the update. */
  get backend(): "wasm" | "js" {
    return this.kernel ? "wasm" : "js";
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
        if (this.kernel) {
          let slot = this.slots.get(name);
          if (!slot) {
            slot = this.kernel.allocate(p.length);
            this.slots.set(name, slot);
          }
          this.kernel.step(slot, p, g, { b1, b2, decay, stepSize, invBc2Sqrt: 1 / bc2sqrt, eps });
          continue;
        }
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
    if (this.kernel) {
      for (const [k, slot] of this.slots) {
        const { m, v } = this.kernel.read(slot);
        tensors[`exp_avg.${k}`] = m;
        tensors[`exp_avg_sq.${k}`] = v;
      }
    } else {
      for (const [k, a] of this.m) tensors[`exp_avg.${k}`] = a;
      for (const [k, a] of this.v) tensors[`exp_avg_sq.${k}`] = a;
    }
    return { step: this.t, tensors };
  }

  loadStateDict(state: { step: number; tensors: Record<string, Float32Array> }): void {
    this.t = state.step;
    const ms = new Map<string, Float32Array>();
    const vs = new Map<string, Float32Array>();
    for (const [k, a] of Object.entries(state.tensors)) {
      if (k.startsWith("exp_avg.")) ms.set(k.slice(8), a);
      else if (k.startsWith("exp_avg_sq.")) vs.set(k.slice(11), a);
      else throw new Error(`AdamW.loadStateDict: unexpected tensor '${k}'`);
    }
    for (const [k, m] of ms) {
      const v = vs.get(k);
      if (!v || v.length !== m.length) throw new Error(`AdamW.loadStateDict: exp_avg_sq.${k} missing or mis-sized`);
      if (this.kernel) {
        let slot = this.slots.get(k);
        if (!slot || slot.n !== m.length) {
          slot = this.kernel.allocate(m.length);
          this.slots.set(k, slot);
        }
        this.kernel.write(slot, m, v);
      } else {
        this.m.set(k, Float32Array.from(m));
        this.v.set(k, Float32Array.from(v));
      }
    }
  }
}
