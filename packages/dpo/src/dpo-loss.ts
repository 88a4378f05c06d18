/**
 * DPO losses as pure functions of sequence log-probs (graph values of shape [B], float32), and the
 * metrics TRL logs for them.
 *
 * With pc, pr the policy's log-probs of the chosen and rejected completions and rc, rr the
 * reference's, the implicit-reward margin is
 *   h = (pc - rc) - (pr - rr)
 * and, per pair:
 *   sigmoid  -log σ(βh)                                          Rafailov et al. 2023, eq. 7
 *            with label smoothing ε (cDPO, Mitchell 2023):  -(1-ε) log σ(βh) - ε log σ(-βh)
 *   robust   (-(1-ε) log σ(βh) + ε log σ(-βh)) / (1 - 2ε)        Chowdhury et al. 2024, eq. 8 (TRL "robust")
 *   hinge    max(0, 1 - βh)                                       SLiC, Zhao et al. 2023 (TRL "hinge")
 *   ipo      (h - 1/(2β))²  with per-token AVERAGE log-probs      Azar et al. 2023, eq. 17 (TRL "ipo")
 * Rewards (TRL): chosen = β(pc - rc), rejected = β(pr - rr), margin = their difference,
 * accuracy = chosen > rejected.
 */
import { type Value, add, div, logSigmoid, maximum, mul, square, sub } from "@ortrl/core";
import type { DpoLossType } from "./dpo-config.js";

export interface DpoLossConfig {
  beta: number;
  lossType: DpoLossType;
  labelSmoothing: number;
}

/** Sequence log-probs of a batch of pairs, each [B] float32 (sums, or per-token averages for IPO). */
export interface PairLogps {
  policyChosen: Value;
  policyRejected: Value;
  refChosen: Value;
  refRejected: Value;
}

/** Per-pair losses [B] (see the file comment for the math). */
export function dpoLosses(l: PairLogps, c: DpoLossConfig): Value {
  const h = sub(sub(l.policyChosen, l.refChosen), sub(l.policyRejected, l.refRejected));
  const bh = mul(h, c.beta);
  const eps = c.labelSmoothing;
  switch (c.lossType) {
    case "sigmoid": {
      const main = mul(logSigmoid(bh), -(1 - eps));
      return eps > 0 ? sub(main, mul(logSigmoid(mul(bh, -1)), eps)) : main;
    }
    case "robust":
      return div(add(mul(logSigmoid(bh), -(1 - eps)), mul(logSigmoid(mul(bh, -1)), eps)), 1 - 2 * eps);
    case "hinge":
      return maximum(sub(1, bh), 0);
    case "ipo":
      return square(sub(h, 1 / (2 * c.beta)));
  }
}

/** Whether the loss compares per-token average log-probs (IPO) rather than sums. */
export const usesAverageLogps = (lossType: DpoLossType): boolean => lossType === "ipo";

/** What the DPO graph returns for a batch of B pairs. */
export interface PairOutputs {
  /** Policy sequence log-probs (sums, or averages for IPO), B each. */
  chosenLogps: Float32Array;
  rejectedLogps: Float32Array;
  /** Reference sequence log-probs, same kind. */
  refChosenLogps: ArrayLike<number>;
  refRejectedLogps: ArrayLike<number>;
  /** Sums over chosen / rejected completion tokens of the sum of their raw vocabulary logits. */
  chosenLogitsSum: number;
  rejectedLogitsSum: number;
  /** Completion tokens of the batch's chosen / rejected completions. */
  chosenTokens: number;
  rejectedTokens: number;
  vocabSize: number;
}

/**
 * TRL's DPO metrics for one micro-batch (means over its pairs; `logits/*` the mean raw logit over
 * every vocabulary entry at every completion token of the batch, as TRL's mean_chosen_logits).
 */
export function dpoMetrics(o: PairOutputs, beta: number): Record<string, number> {
  const B = o.chosenLogps.length;
  let rc = 0;
  let rr = 0;
  let acc = 0;
  let pc = 0;
  let pr = 0;
  for (let i = 0; i < B; i++) {
    const c = beta * (o.chosenLogps[i]! - o.refChosenLogps[i]!);
    const r = beta * (o.rejectedLogps[i]! - o.refRejectedLogps[i]!);
    rc += c;
    rr += r;
    if (c > r) acc++;
    pc += o.chosenLogps[i]!;
    pr += o.rejectedLogps[i]!;
  }
  return {
    "rewards/chosen": rc / B,
    "rewards/rejected": rr / B,
    "rewards/accuracies": acc / B,
    "rewards/margins": (rc - rr) / B,
    "logps/chosen": pc / B,
    "logps/rejected": pr / B,
    "logits/chosen": o.chosenTokens ? o.chosenLogitsSum / (o.chosenTokens * o.vocabSize) : 0,
    "logits/rejected": o.rejectedTokens ? o.rejectedLogitsSum / (o.rejectedTokens * o.vocabSize) : 0,
  };
}
