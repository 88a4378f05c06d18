/**
 * GRPO losses as pure functions.
 *
 * Per completion token t of completion i (Shao et al. 2024, DeepSeekMath, eq. 3; PPO's clipped
 * surrogate with DAPO's decoupled clip range, Yu et al. 2025 eq. 8):
 *   ratio  r = exp(logp - logp_old)                 (logp_old = the rollout's; = logp detached when numIterations = 1)
 *   loss_t = -min(r A_i, clip(r, 1 - ε, 1 + ε_high) A_i) + β KL_t
 *   KL_t   = exp(logp_ref - logp) - (logp_ref - logp) - 1      (the k3 estimator, Shao et al. eq. 4)
 * and the normalisation of the token losses (`lossType`, TRL's names):
 *   grpo     mean over each sequence's tokens, then mean over sequences            (Shao et al. eq. 3)
 *   bnpo     sum over the micro-batch's tokens / its token count                    (TRL "bnpo")
 *   dr_grpo  sum / (sequences x maxCompletionLength), a constant                    (Liu et al. 2025, Dr. GRPO)
 *   dapo     sum over the step's tokens / the step's token count                    (Yu et al. 2025, token-level)
 * The normalisation is expressed as a weight per token (and the items a completion counts for the
 * trainer's normaliser), so one graph computes every variant: loss_sum = Σ w_t loss_t, and the step
 * loss is loss_sum summed over micro-batches / items of the step.
 */
import { type Value, add, clip, exp, minimum, mul, sub } from "@ortrl/core";
import type { GrpoLossType } from "./grpo-config.js";

export interface GrpoLossConfig {
  epsilon: number;
  /** Upper clip range; null = epsilon. */
  epsilonHigh: number | null;
  beta: number;
}

/** Graph values of the per-token loss, [B, N] each. */
export interface PerTokenLoss {
  loss: Value;
  /** The importance ratio r. */
  ratio: Value;
  /** KL_t (only when β > 0). */
  kl: Value | null;
}

/**
 * Per-token GRPO loss (see the file comment).
 * @param t logps, oldLogps, advantages (per token) and refLogps (required when β > 0), [B, N] float32.
 */
export function grpoPerTokenLoss(t: { logps: Value; oldLogps: Value; advantages: Value; refLogps: Value | null }, c: GrpoLossConfig): PerTokenLoss {
  const ratio = exp(sub(t.logps, t.oldLogps));
  const clipped = clip(ratio, 1 - c.epsilon, 1 + (c.epsilonHigh ?? c.epsilon));
  let loss = mul(minimum(mul(ratio, t.advantages), mul(clipped, t.advantages)), -1);
  let kl: Value | null = null;
  if (c.beta > 0) {
    if (!t.refLogps) throw new Error("grpoPerTokenLoss: beta > 0 needs reference log-probs");
    const d = sub(t.refLogps, t.logps);
    kl = sub(sub(exp(d), d), 1);
    loss = add(loss, mul(kl, c.beta));
  }
  return { loss, ratio, kl };
}

/** A completion as the normalisation sees it: its scored tokens (0 when masked out). */
export interface ScoredCompletion {
  tokens: number;
}

/** Items a completion counts for the trainer's normaliser: its tokens (dapo) or 1 (the others). */
export function lossItems(lossType: GrpoLossType, c: ScoredCompletion): number {
  return lossType === "dapo" ? c.tokens : 1;
}

/** The weight of every token of each completion of a micro-batch (see the file comment). */
export function tokenWeights(lossType: GrpoLossType, micro: readonly ScoredCompletion[], maxCompletionLength: number): number[] {
  const tokens = micro.reduce((n, c) => n + c.tokens, 0);
  return micro.map((c) => {
    if (c.tokens === 0) return 0;
    switch (lossType) {
      case "dapo":
        return 1;
      case "grpo":
        return 1 / c.tokens;
      case "bnpo":
        return micro.length / Math.max(tokens, 1);
      case "dr_grpo":
        return 1 / maxCompletionLength;
    }
  });
}
