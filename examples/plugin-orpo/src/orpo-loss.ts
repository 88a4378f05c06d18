/**
 * The ORPO loss as pure graph functions of per-token AVERAGE log-probs (graph values of shape [B],
 * float32, nats per token, <= 0), and the metrics TRL's ORPOTrainer logs for it.
 *
 * Hong, Lee, Thorne 2024, "ORPO: Monolithic Preference Optimization without Reference Model"
 * (arXiv 2403.07691). With c, r the average log-probs of the chosen and rejected completions
 * (length-normalised, completion tokens only), P = exp(c) is the paper's P_θ(y|x) (§4.1) and:
 *
 *   log odds(y|x) = log(P / (1 - P)) = c - log(1 - e^c)                        §4.1, odds_θ
 *   z             = log odds(y_w|x) - log odds(y_l|x) = log OR_θ(y_w, y_l)       §4.1
 *   L_OR          = -log σ(z)                                                    eq. 7
 *   L_SFT         = -c   (the token-mean NLL of the chosen completion)
 *   loss          = L_SFT + β L_OR        (β is the paper's λ; TRL calls it beta) eq. 6
 *
 * TRL's ORPOTrainer writes the same log odds with log1p(-exp(c)), which is -inf at c = 0 and loses
 * all precision as c -> 0 in float32 (e^c rounds to 1).
 *
 * log(1 - e^c) is computed stably (see {@link log1mExp}); c is capped at {@link MAX_AVERAGE_LOGP} so
 * that a completion the model is certain of (c = 0 in float32, P = 1) gives finite odds. log σ(z) is
 * {@link logSigmoidExp}, whose gradient keeps its relative precision in the tails: as P(y_w|x) -> 1,
 * dL_OR/dc = -σ(-z) / (1 - P(y_w|x)) tends to a finite, non-zero limit (β × the rejected odds), a
 * product of a vanishing and an exploding factor that needs both to full precision.
 */
import { type Value, add, clip, exp, greater, log, mul, neg, square, sub, where } from "@ortrl/core";

/**
 * The largest average log-prob the odds are formed from (nats/token). A float32 average log-prob
 * above it (in practice: exactly 0, every token certain) is read as this value, so the odds stay
 * finite (log odds <= about 69) and no gradient flows through it.
 */
export const MAX_AVERAGE_LOGP = -1e-30;

/** Bound of the clamps that keep the untaken branch of a `where` finite (clip passes the gradient at its bounds, minimum/maximum split it at ties). */
const HUGE = 1e30;

/** Below this |a|, log(1 - e^a) is taken from its series around 0 (relative error < 1e-9 there). */
const SERIES_RANGE = 0.25;

/**
 * log(1 - e^a) for a <= 0, elementwise, any shape, float32; stable as a -> 0 (where 1 - e^a cancels).
 * For a > -0.25 it uses log(-a) + a/2 + a²/24 - a⁴/2880 (the series of log((1 - e^a)/(-a)), truncation
 * error below 1e-9 relative on that range); below, log(1 - e^a) directly (1 - e^a >= 0.22, no
 * cancellation). Each branch reads its input clamped to its own range, so the branch not taken has a
 * finite value and gradient (a `where` over an infinite branch would turn gradients into NaN).
 * Values of a above {@link MAX_AVERAGE_LOGP} are read as that value (zero gradient).
 */
export function log1mExp(a: Value): Value {
  const s = clip(a, -SERIES_RANGE, MAX_AVERAGE_LOGP);
  const s2 = square(s);
  const series = add(log(neg(s)), add(mul(s, 0.5), sub(mul(s2, 1 / 24), mul(square(s2), 1 / 2880))));
  const direct = log(sub(1, exp(clip(a, -HUGE, -SERIES_RANGE))));
  return where(greater(a, -SERIES_RANGE), series, direct);
}

/**
 * log σ(z) elementwise (any shape, float32), written with Exp and Log so that its gradient σ(-z) is
 * accurate to float32 relative precision for every z: z >= 0 gives -log(1 + e^-z), z < 0 gives
 * z - log(1 + e^z). (Core's `logSigmoid` differentiates through the Sigmoid kernel of onnxruntime,
 * which returns 0 below z = -18 and is off by up to 2x from about -15: fine wherever σ(-z) is only
 * added, wrong where ORPO multiplies it by 1 / (1 - P).) The value's error is below 1e-7 absolute.
 */
export function logSigmoidExp(z: Value): Value {
  const pos = clip(z, 0, HUGE);
  const negative = clip(z, -HUGE, 0);
  return where(greater(z, 0), neg(log(add(1, exp(neg(pos))))), sub(negative, log(add(1, exp(negative)))));
}

/** log odds(y|x) = log(P / (1 - P)) with P = exp(avgLogp) (§4.1); same shape as `avgLogp`. */
export function logOdds(avgLogp: Value): Value {
  return sub(avgLogp, log1mExp(avgLogp));
}

/** Per-token average log-probs of a batch of pairs, [B] float32 each. */
export interface PairAverageLogps {
  chosen: Value;
  rejected: Value;
}

/** What {@link orpoLosses} builds: per-pair values, [B] float32 each. */
export interface OrpoLossTerms {
  /** L_SFT + β L_OR per pair (eq. 6 before the expectation). */
  losses: Value;
  /** z = log odds(chosen) - log odds(rejected) = log OR per pair. */
  logOddsRatio: Value;
}

/** Per-pair ORPO losses and log odds ratios (see the file comment for the math). */
export function orpoLosses(l: PairAverageLogps, beta: number): OrpoLossTerms {
  const logOddsRatio = sub(logOdds(l.chosen), logOdds(l.rejected));
  const losses = add(neg(l.chosen), mul(logSigmoidExp(logOddsRatio), -beta));
  return { losses, logOddsRatio };
}

/** What the ORPO graph returns for a micro-batch of B pairs. */
export interface OrpoOutputs {
  /** Per-token average log-probs of the chosen / rejected completions, [B]. */
  chosenLogps: ArrayLike<number>;
  rejectedLogps: ArrayLike<number>;
  /** z per pair, [B]. */
  logOddsRatio: ArrayLike<number>;
  /** Sums over the chosen / rejected completion tokens of the sum of their raw vocabulary logits. */
  chosenLogitsSum: number;
  rejectedLogitsSum: number;
  /** Completion tokens of the batch's chosen / rejected completions. */
  chosenTokens: number;
  rejectedTokens: number;
  vocabSize: number;
}

/** log σ(x) in float64, stable for any x. */
export function logSigmoid64(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/**
 * TRL ORPOTrainer's metrics for one micro-batch, means over its pairs (the trainer then averages
 * micro-batches since the last log, as TRL does):
 *
 * - `rewards/chosen`, `rewards/rejected`: β × the average log-prob (ORPO has no reference model);
 *   `rewards/accuracies`: the fraction of pairs with chosen > rejected (strict);
 *   `rewards/margins`: mean of chosen - rejected;
 * - `logps/chosen`, `logps/rejected`: the per-token average log-probs;
 * - `logits/chosen`, `logits/rejected`: the mean raw logit over every vocabulary entry at every
 *   position that predicts a completion token (TRL averages over the whole padded sequence, prompt and
 *   padding included, which depends on how a batch happens to be padded; this is the completion part);
 * - `nll_loss`: L_SFT, the mean over pairs of the chosen completion's token-mean NLL (TRL takes the
 *   token mean over the whole micro-batch and includes the prompt tokens; the paper's L_SFT is the
 *   response's);
 * - `log_odds_ratio`: mean of log σ(z) (= -L_OR; TRL's name); `log_odds_chosen`: mean of z.
 */
export function orpoMetrics(o: OrpoOutputs, beta: number): Record<string, number> {
  const B = o.chosenLogps.length;
  let pc = 0;
  let pr = 0;
  let acc = 0;
  let ratio = 0;
  let z = 0;
  for (let i = 0; i < B; i++) {
    const c = o.chosenLogps[i]!;
    const r = o.rejectedLogps[i]!;
    pc += c;
    pr += r;
    if (beta * c > beta * r) acc++;
    ratio += logSigmoid64(o.logOddsRatio[i]!);
    z += o.logOddsRatio[i]!;
  }
  return {
    "rewards/chosen": (beta * pc) / B,
    "rewards/rejected": (beta * pr) / B,
    "rewards/accuracies": acc / B,
    "rewards/margins": (beta * (pc - pr)) / B,
    "logps/chosen": pc / B,
    "logps/rejected": pr / B,
    "logits/chosen": o.chosenTokens ? o.chosenLogitsSum / (o.chosenTokens * o.vocabSize) : 0,
    "logits/rejected": o.rejectedTokens ? o.rejectedLogitsSum / (o.rejectedTokens * o.vocabSize) : 0,
    nll_loss: -pc / B,
    log_odds_ratio: ratio / B,
    log_odds_chosen: z / B,
  };
}
