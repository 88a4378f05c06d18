/**
 * Next-token selection from logits, following transformers' warper order:
 * temperature, then top-k, then top-p (nucleus: the smallest set of most likely tokens whose
 * probability mass reaches top_p, always at least one), then a draw from the renormalised distribution.
 * Temperature 0 (or doSample false) is greedy argmax (first maximum on ties, as torch.argmax).
 */
import type { Rng } from "../util/rng.js";

export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 disables. Default 0. */
  topK?: number;
  /** Nucleus mass in (0, 1]; 1 disables. Default 1. */
  topP?: number;
}

/** Index of the largest logit in logits[offset, offset + n). */
export function argmax(logits: Float32Array, offset = 0, n = logits.length - offset): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * Picks a token id from one row of logits.
 * @throws RangeError for temperature < 0, topK < 0 or topP outside (0, 1].
 */
export function sampleToken(logits: Float32Array, offset: number, n: number, opts: SamplingOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  if (!(temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
  if (!(topK >= 0) || !Number.isInteger(topK)) throw new RangeError(`topK must be a non-negative integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  if (temperature === 0) return argmax(logits, offset, n);

  let maxLogit = -Infinity;
  for (let i = 0; i < n; i++) maxLogit = Math.max(maxLogit, logits[offset + i]!);
  if (!Number.isFinite(maxLogit)) throw new RangeError(`sampling: the logits hold no finite maximum (${maxLogit}): the model produced NaN/Inf`);
  const scaledMax = maxLogit / temperature;
  if (topK === 0 && topP === 1) {
    // Plain softmax sampling in one pass over the vocabulary.
    let total = 0;
    for (let i = 0; i < n; i++) total += Math.exp(logits[offset + i]! / temperature - scaledMax);
    let u = rng.next() * total;
    for (let i = 0; i < n; i++) {
      u -= Math.exp(logits[offset + i]! / temperature - scaledMax);
      if (u < 0) return i;
    }
    return argmax(logits, offset, n);
  }
  // Candidates within e^-50 of the maximum probability (the rest carry < n * 2e-22 of the mass),
  // sorted by logit descending; ties keep index order.
  let idx: number[] = [];
  for (let i = 0; i < n; i++) if (logits[offset + i]! / temperature - scaledMax > -50) idx.push(i);
  idx.sort((a, b) => logits[offset + b]! - logits[offset + a]! || a - b);
  if (topK > 0 && topK < idx.length) idx = idx.slice(0, topK);
  const probs = idx.map((i) => Math.exp(logits[offset + i]! / temperature - scaledMax));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length) {
      cum += probs[keep]! / total;
      keep++;
      if (cum >= topP) break;
    }
    idx = idx.slice(0, keep);
    probs.length = keep;
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * total;
  for (let j = 0; j < idx.length; j++) {
    u -= probs[j]!;
    if (u < 0) return idx[j]!;
  }
  return idx[idx.length - 1]!;
}
