/**
 * Token-level losses on logits.
 *
 * Causal-LM cross-entropy (HF `ForCausalLMLoss`): logits[:, t] predicts labels[:, t+1]; labels equal
 * to -100 are ignored; the loss is the sum of token losses divided by the number of counted tokens
 * (the training graph divides by the label tokens of the whole optimizer step instead, see train/causal-lm-graph.ts).
 */
import type { Value } from "../ir/graph.js";
import { mul } from "../ops/binary.js";
import { cast, equal, not } from "../ops/compare.js";
import { IGNORE_INDEX, targetLogp } from "../ops/cross-entropy.js";

export { IGNORE_INDEX };
import { reduceSum } from "../ops/reduce.js";
import { slice } from "../ops/shape-ops.js";


/**
 * log p(ids[t] | logits[t]) for every position.
 * @param logits [B, T, V] float32; ids [B, T] int64 (entries equal to -100 are read as 0).
 * @returns [B, T] float32 log-probabilities (0 at ignored positions); fused op, see ops/cross-entropy.ts.
 */
export function gatherLogps(logits: Value, ids: Value): Value {
  return targetLogp(logits, ids).logp;
}

export interface CausalLmLoss {
  /** Sum of -log p over counted tokens (scalar float32). */
  lossSum: Value;
  /** Number of counted tokens (scalar float32). */
  count: Value;
  /** Per-token log-probs of the shifted labels [B, T-1] (0 where ignored). */
  tokenLogps: Value;
  /** Mask of counted tokens [B, T-1] float32. */
  mask: Value;
}

/**
 * Shifted cross-entropy pieces. `logits` may already be shifted: pass `shifted: true` when
 * logits has T-1 positions computed from hidden[:, :-1] (cheaper: the last position is never scored).
 * @param logits [B, T, V] (or [B, T-1, V] when shifted); labels [B, T] int64 with -100 = ignore.
 */
export function causalLmLoss(logits: Value, labels: Value, shifted = false): CausalLmLoss {
  const l = shifted ? logits : slice(logits, [1], [0], [-1]);
  const target = slice(labels, [1], [1], [2 ** 62]);
  const mask = cast(not(equal(target, IGNORE_INDEX)), "float32");
  const tokenLogps = gatherLogps(l, target);
  return { lossSum: mul(reduceSum(tokenLogps), -1), count: reduceSum(mask), tokenLogps, mask };
}
