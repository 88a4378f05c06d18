/**
 * Learning-rate schedules with transformers' `get_scheduler` semantics (LambdaLR multipliers of the
 * peak rate at optimizer step k, 0-based, before the k-th update):
 *   warm-up (k < W):       k / max(1, W)
 *   constant:              1
 *   linear:                max(0, (T - k) / max(1, T - W))
 *   cosine:                max(0, 0.5 (1 + cos(pi * (k - W) / max(1, T - W))))
 */
import type { LrSchedulerType } from "./args.js";
import type { LrScheduler } from "./seams.js";

export function makeScheduler(type: LrSchedulerType, totalSteps: number, warmupSteps: number): LrScheduler {
  const W = warmupSteps;
  const T = totalSteps;
  return {
    factor(k: number): number {
      if (type === "constant") return 1;
      if (k < W) return k / Math.max(1, W);
      if (type === "constant_with_warmup") return 1;
      const progress = (k - W) / Math.max(1, T - W);
      if (type === "linear") return Math.max(0, (T - k) / Math.max(1, T - W));
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    },
  };
}

/** Warm-up steps from args: warmupSteps if > 0, else ceil(warmupRatio * totalSteps). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(warmupRatio * totalSteps);
}
