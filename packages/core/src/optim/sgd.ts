/**
 * SGD with momentum, torch.optim.SGD semantics (dampening 0, nesterov false):
 *   g <- g + wd p;  b <- mu b + g (b = g on the first step);  p <- p - lr b
 */
import type { ParamSource } from "../params/param-store.js";
import { type GradMap, type Optimizer, type ParamGroup, validateGroups } from "./optimizer.js";

export class SGD implements Optimizer {
  readonly groups: ParamGroup[];
  private readonly buf = new Map<string, Float32Array>();
  private t = 0;

  constructor(groups: ParamGroup[], readonly momentum = 0) {
    validateGroups(groups);
    if (!(momentum >= 0 && momentum < 1)) throw new Error(`SGD: momentum must be in [0, 1), got ${momentum}`);
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
  }

  get stepCount(): number {
    return this.t;
  }

  step(params: ParamSource, grads: GradMap, lrFactor = 1): void {
    this.t++;
    const mu = this.momentum;
    for (const group of this.groups) {
      const lr = group.lr * lrFactor;
      const wd = group.weightDecay ?? 0;
      for (const name of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        const p = params.get(name);
        if (g.length !== p.length) throw new Error(`SGD: gradient of '${name}' has ${g.length} elements, parameter ${p.length}`);
        if (mu === 0) {
          for (let i = 0; i < p.length; i++) p[i] = p[i]! - lr * (g[i]! + wd * p[i]!);
          continue;
        }
        let b = this.buf.get(name);
        const first = !b;
        if (!b) {
          b = new Float32Array(p.length);
          this.buf.set(name, b);
        }
        for (let i = 0; i < p.length; i++) {
          const gi = g[i]! + wd * p[i]!;
          const bi = first ? gi : mu * b[i]! + gi;
          b[i] = bi;
          p[i] = p[i]! - lr * bi;
        }
      }
    }
  }

  stateDict(): { step: number; tensors: Record<string, Float32Array> } {
    const tensors: Record<string, Float32Array> = {};
    for (const [k, a] of this.buf) tensors[`momentum_buffer.${k}`] = a;
    return { step: this.t, tensors };
  }

  loadStateDict(state: { step: number; tensors: Record<string, Float32Array> }): void {
    this.t = state.step;
    this.buf.clear();
    for (const [k, a] of Object.entries(state.tensors)) {
      if (!k.startsWith("momentum_buffer.")) throw new Error(`SGD.loadStateDict: unexpected tensor '${k}'`);
      this.buf.set(k.slice(16), Float32Array.from(a));
    }
  }
}
