/**
 * Branched rows: a shared prefix (the prompt) followed by branches that each continue it — DPO's
 * chosen and rejected completions, GRPO's num_generations completions — packed into ONE row so the
 * prefix is computed once. Attention is a tree: prefix tokens see earlier prefix tokens; a branch
 * token sees the whole prefix and earlier tokens of its own branch, never another branch. Positions
 * restart at the end of the prefix in every branch, so each branch is computed exactly as the
 * separate sequence prefix + branch would be (same math as TRL's concatenated batch, fewer tokens).
 *
 * Only branch tokens are scored: branch token i is predicted from the position before it (the last
 * prefix token for i = 0), so the LM head runs on scored positions only.
 *
 * Layout of a row of prefix P and branches b_1..b_k: [prefix | b_1 | ... | b_k]; segment ids
 * (attention_mask) 1 for the prefix and j + 1 for branch j; `prefixSegments` 0 for prefix tokens and 1
 * for branch tokens (the segment a token also attends to).
 */
import type { TokenBatch } from "./batch.js";

/** A prompt and its continuations (token ids). */
export interface BranchedRow {
  /** Shared prefix, at least one token (BOS included as the model expects). */
  readonly prefix: readonly number[];
  /** Continuations of the prefix; each at least one token. */
  readonly branches: readonly (readonly number[])[];
}

/** Packed branched rows and what to score. */
export interface ScoreBatch {
  readonly rows: readonly BranchedRow[];
  /** [B, T] ids, segments (attention_mask), positions and `prefixSegments`, right-padded. */
  readonly batch: TokenBatch & { prefixSegments: BigInt64Array };
  /** Scored tokens per row (N, the longest row's total branch length). */
  readonly numScored: number;
  /** [B, N] int64: position (within the row) whose logits predict each scored token. */
  readonly scoreIndex: BigInt64Array;
  /** [B, N] int64: the scored token ids; -100 past a row's last branch token (log-prob 0 there). */
  readonly scoreTargets: BigInt64Array;
  /** Per row, per branch: its [start, end) on the N axis. */
  readonly spans: readonly (readonly [number, number])[][];
}

/**
 * Packs rows into a right-padded batch (pad id `padId`, segment 0).
 * @throws RangeError for no rows, an empty prefix, a row without branches, or an empty branch.
 */
export function collateBranched(rows: readonly BranchedRow[], padId: number): ScoreBatch {
  if (rows.length === 0) throw new RangeError("collateBranched: no rows");
  rows.forEach((r, i) => {
    if (r.prefix.length === 0) throw new RangeError(`collateBranched: row ${i} has an empty prefix (nothing predicts its first branch token; add a BOS token)`);
    if (r.branches.length === 0) throw new RangeError(`collateBranched: row ${i} has no branches`);
    r.branches.forEach((b, j) => {
      if (b.length === 0) throw new RangeError(`collateBranched: row ${i} branch ${j} is empty`);
    });
  });
  const B = rows.length;
  const scored = rows.map((r) => r.branches.reduce((n, b) => n + b.length, 0));
  const T = Math.max(...rows.map((r, i) => r.prefix.length + scored[i]!));
  const N = Math.max(...scored);
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * T);
  const prefixSegments = new BigInt64Array(B * T);
  const scoreIndex = new BigInt64Array(B * N);
  const scoreTargets = new BigInt64Array(B * N).fill(-100n);
  const spans: [number, number][][] = [];
  rows.forEach((r, b) => {
    const P = r.prefix.length;
    const row = b * T;
    r.prefix.forEach((id, t) => {
      inputIds[row + t] = BigInt(id);
      attentionMask[row + t] = 1n;
      positionIds[row + t] = BigInt(t);
    });
    let t = P;
    let n = 0;
    const rowSpans: [number, number][] = [];
    r.branches.forEach((branch, j) => {
      rowSpans.push([n, n + branch.length]);
      branch.forEach((id, i) => {
        inputIds[row + t] = BigInt(id);
        attentionMask[row + t] = BigInt(j + 2);
        prefixSegments[row + t] = 1n;
        positionIds[row + t] = BigInt(P + i);
        scoreIndex[b * N + n] = BigInt(i === 0 ? P - 1 : t - 1);
        scoreTargets[b * N + n] = BigInt(id);
        t++;
        n++;
      });
    });
    spans.push(rowSpans);
  });
  return { rows, batch: { batchSize: B, seqLen: T, inputIds, attentionMask, positionIds, prefixSegments }, numScored: N, scoreIndex, scoreTargets, spans };
}

/** Sums of per-token values [B, N] over each branch: result[row][branch]. */
export function branchSums(values: Float32Array, sb: ScoreBatch): number[][] {
  return sb.spans.map((rowSpans, b) =>
    rowSpans.map(([s, e]) => {
      let acc = 0;
      for (let n = s; n < e; n++) acc += values[b * sb.numScored + n]!;
      return acc;
    }),
  );
}

/** Per-token values [B, N] of each branch, copied out: result[row][branch] (length = branch length). */
export function branchValues(values: Float32Array, sb: ScoreBatch): Float32Array[][] {
  return sb.spans.map((rowSpans, b) => rowSpans.map(([s, e]) => values.slice(b * sb.numScored + s, b * sb.numScored + e)));
}

/** Non-padding tokens of the packed batch. */
export function packedTokens(sb: ScoreBatch): number {
  return sb.rows.reduce((n, r) => n + r.prefix.length + r.branches.reduce((m, b) => m + b.length, 0), 0);
}
