/**
 * Tokenized examples and their batching into padded micro-batches.
 */
import { type TokenBatch, padBatch, positionIdsFromMask } from "../model/batch.js";
import { IGNORE_INDEX } from "../nn/losses.js";
import { Rng } from "../util/rng.js";

/** One training row: token ids, labels (-100 = not scored) and optional packing segments. */
export interface TokenizedExample {
  inputIds: number[];
  labels: number[];
  /** Segment id per token (1..n) for packed rows whose samples must not attend to each other. */
  segments?: number[];
}

/** Label tokens an example contributes to the causal-LM loss (labels[1:] not equal to -100). */
export function countLabelTokens(e: TokenizedExample): number {
  let n = 0;
  for (let t = 1; t < e.labels.length; t++) if (e.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Right-pads examples into a batch (pad id `padId`, labels -100, attention mask = segments or 1). */
export function collate(examples: readonly TokenizedExample[], padId: number): TokenBatch {
  const b = padBatch(
    examples.map((e) => e.inputIds),
    { padId, labels: examples.map((e) => e.labels) },
  );
  if (examples.some((e) => e.segments)) {
    examples.forEach((e, i) => {
      if (!e.segments) return;
      e.segments.forEach((s, t) => (b.attentionMask[i * b.seqLen + t] = BigInt(s)));
    });
    b.positionIds = positionIdsFromMask(b.attentionMask, b.batchSize, b.seqLen);
  }
  return b;
}

/**
 * The order examples are visited in epoch `epoch`: a permutation drawn from (seed, epoch), so a
 * resumed run sees the same order as an uninterrupted one.
 */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return shuffle ? new Rng((seed * 1000003 + epoch * 7919) >>> 0).shuffle(idx) : idx;
}

/** Groups an epoch's order into micro-batches of `batchSize` (the last may be smaller). */
export function microBatches(order: readonly number[], batchSize: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}
