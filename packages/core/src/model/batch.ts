/**
 * Token batches: padded int64 rows plus the attention mask (segment ids) and position ids the
 * Llama graph reads. Conventions (Hugging Face): `attention_mask` 1 = real token, 0 = padding; packed
 * rows use segment ids 1..n so samples do not attend to each other; `labels` -100 = not scored.
 */
import type { TensorData } from "../runtime/runtime.js";

export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  /** [B, T] token ids. */
  inputIds: BigInt64Array;
  /** [B, T] 0 = padding, else segment id (1 for ordinary rows). */
  attentionMask: BigInt64Array;
  /** [B, T] positions restarting at 0 in every segment (padding gets 0). */
  positionIds: BigInt64Array;
  /** [B, T] target ids, -100 where not scored. */
  labels?: BigInt64Array;
}

/** Positions counted within each segment of each row; padding (segment 0) gets 0. */
export function positionIdsFromMask(mask: BigInt64Array, batchSize: number, seqLen: number): BigInt64Array {
  const pos = new BigInt64Array(mask.length);
  for (let b = 0; b < batchSize; b++) {
    const counts = new Map<bigint, number>();
    for (let t = 0; t < seqLen; t++) {
      const i = b * seqLen + t;
      const s = mask[i]!;
      if (s === 0n) continue;
      const c = counts.get(s) ?? 0;
      pos[i] = BigInt(c);
      counts.set(s, c + 1);
    }
  }
  return pos;
}

export interface PadOptions {
  /** Token id written into padding (default 0). */
  padId?: number;
  /** "right" (training, default) or "left" (generation). */
  side?: "left" | "right";
  /** Pad to at least this length (e.g. a bucket); default the longest row. */
  length?: number;
  /** Per-row labels (same lengths as rows); padding gets -100. */
  labels?: readonly (readonly number[])[];
}

/**
 * Pads variable-length rows into a {@link TokenBatch}.
 * @throws Error when rows is empty, a row is longer than `length`, or labels lengths differ.
 */
export function padBatch(rows: readonly (readonly number[])[], opts: PadOptions = {}): TokenBatch {
  if (rows.length === 0) throw new Error("padBatch: no rows");
  const longest = Math.max(...rows.map((r) => r.length));
  const T = opts.length ?? longest;
  if (longest > T) throw new Error(`padBatch: a row of ${longest} tokens exceeds length ${T}`);
  const B = rows.length;
  const inputIds = new BigInt64Array(B * T).fill(BigInt(opts.padId ?? 0));
  const attentionMask = new BigInt64Array(B * T);
  const labels = opts.labels ? new BigInt64Array(B * T).fill(-100n) : undefined;
  rows.forEach((row, b) => {
    const off = opts.side === "left" ? T - row.length : 0;
    const lab = opts.labels?.[b];
    if (opts.labels && lab?.length !== row.length) throw new Error(`padBatch: labels of row ${b} have ${lab?.length} entries, row has ${row.length}`);
    row.forEach((id, t) => {
      inputIds[b * T + off + t] = BigInt(id);
      attentionMask[b * T + off + t] = 1n;
      if (labels) labels[b * T + off + t] = BigInt(lab![t]!);
    });
  });
  return { batchSize: B, seqLen: T, inputIds, attentionMask, positionIds: positionIdsFromMask(attentionMask, B, T), labels };
}

/** Graph feeds for a batch (names: input_ids, attention_mask, position_ids, labels). */
export function batchFeeds(b: TokenBatch): Record<string, TensorData> {
  const dims = [b.batchSize, b.seqLen];
  const feeds: Record<string, TensorData> = {
    input_ids: { data: b.inputIds, dims },
    attention_mask: { data: b.attentionMask, dims },
    position_ids: { data: b.positionIds, dims },
  };
  if (b.labels) feeds.labels = { data: b.labels, dims };
  return feeds;
}
