/**
 * Graph pieces that score branched rows (model/branched.ts): the inputs, the logits at the scored
 * positions only, and the log-probability of each scored token. Used by the reference-model forward
 * and by method training graphs (DPO, GRPO) that build their loss on top.
 *
 * Inputs: input_ids, attention_mask (segments), position_ids, prefix_segments ([B, T] int64),
 * score_index ([B, N] int64, flat index b*T + t into the batch's positions), score_targets
 * ([B, N] int64, -100 = padding).
 */
import type { Graph, Value } from "../ir/graph.js";
import { gather } from "../ops/index-ops.js";
import { reshape } from "../ops/shape-ops.js";
import { mul } from "../ops/binary.js";
import { targetLogp } from "../ops/cross-entropy.js";
import type { TensorData } from "../runtime/runtime.js";
import type { ScoreBatch } from "./branched.js";
import type { LlamaGraph } from "./llama.js";

export interface ScoreInputs {
  inputIds: Value;
  attentionMask: Value;
  positionIds: Value;
  prefixSegments: Value;
  scoreIndex: Value;
  scoreTargets: Value;
}

/** Declares the scoring inputs on `g`. */
export function declareScoreInputs(g: Graph): ScoreInputs {
  return {
    inputIds: g.input("input_ids", "int64", ["batch", "seq"]),
    attentionMask: g.input("attention_mask", "int64", ["batch", "seq"]),
    positionIds: g.input("position_ids", "int64", ["batch", "seq"]),
    prefixSegments: g.input("prefix_segments", "int64", ["batch", "seq"]),
    scoreIndex: g.input("score_index", "int64", ["batch", "scored"]),
    scoreTargets: g.input("score_targets", "int64", ["batch", "scored"]),
  };
}

export interface ScoredTokens {
  /** [B, N, V] raw logits at the scored positions. */
  logits: Value;
  /** [B, N] log p(target | its prefix), 0 at padding. */
  logps: Value;
  /** [B, N, V] log-softmax of the logits (for entropies; computed anyway by the fused op). */
  logSoftmax: Value;
}

/**
 * Runs the decoder over the packed rows and scores the targets (LM head on scored positions only).
 * @param temperature logits are divided by it before the softmax (TRL's GRPO scores completions at
 *   the sampling temperature); 1 = the model's own distribution.
 */
export function scoreTokens(lg: LlamaGraph, inp: ScoreInputs, temperature = 1): ScoredTokens {
  const { hidden } = lg.decoder(inp.inputIds, inp.positionIds, inp.attentionMask, undefined, inp.prefixSegments);
  const flat = reshape(hidden, [-1, lg.arch.hiddenSize]);
  const raw = lg.logits(gather(flat, inp.scoreIndex));
  const logits = temperature === 1 ? raw : mul(raw, 1 / temperature);
  const t = targetLogp(logits, inp.scoreTargets);
  return { logits, logps: t.logp, logSoftmax: t.logSoftmax };
}

/** Feeds for {@link declareScoreInputs} (score_index made flat: b * T + t). */
export function scoreFeeds(sb: ScoreBatch): Record<string, TensorData> {
  const { batch, numScored: N } = sb;
  const B = batch.batchSize;
  const T = batch.seqLen;
  const flat = new BigInt64Array(B * N);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) flat[b * N + n] = sb.scoreIndex[b * N + n]! + BigInt(b * T);
  const dims = [B, T];
  return {
    input_ids: { data: batch.inputIds, dims },
    attention_mask: { data: batch.attentionMask, dims },
    position_ids: { data: batch.positionIds, dims },
    prefix_segments: { data: batch.prefixSegments, dims },
    score_index: { data: flat, dims: [B, N] },
    score_targets: { data: sb.scoreTargets, dims: [B, N] },
  };
}
