/**
 * Token-weighted causal-LM evaluation over many sequences: the mean cross-entropy over every
 * predicted token (token t+1 from its prefix) of every sequence, and its perplexity exp(loss).
 * Sequences are batched by similar length (batchSize rows, right padding) to limit padding work.
 */
import type { CausalLM } from "./causal-lm.js";
import { padBatch } from "./batch.js";

export interface EvalResult {
  /** Mean cross-entropy per predicted token (nats). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Number of predicted tokens. */
  tokens: number;
}

/**
 * @param sequences token ids (BOS included as the model expects); each predicts tokens 1..n-1.
 * @param labels optional per-sequence labels (-100 = not scored); default: the ids themselves.
 * @throws Error when no sequence has a token to predict.
 */
export async function evaluateLoss(
  lm: CausalLM,
  sequences: readonly (readonly number[])[],
  opts: { batchSize?: number; labels?: readonly (readonly number[])[] } = {},
): Promise<EvalResult> {
  const bs = opts.batchSize ?? 8;
  const order = sequences.map((_, i) => i).sort((a, b) => sequences[a]!.length - sequences[b]!.length);
  let total = 0;
  let tokens = 0;
  for (let s = 0; s < order.length; s += bs) {
    const idx = order.slice(s, s + bs).filter((i) => sequences[i]!.length > 1);
    if (!idx.length) continue;
    const rows = idx.map((i) => sequences[i]!);
    const labels = idx.map((i) => opts.labels?.[i] ?? sequences[i]!);
    const { lossSum, count } = await lm.lossSum(padBatch(rows, { labels }));
    total += lossSum;
    tokens += count;
  }
  if (tokens === 0) throw new Error("evaluateLoss: no tokens to predict (every sequence is shorter than 2 tokens or fully masked)");
  const loss = total / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}
