/**
 * Grouped-query causal self-attention (Ainslie et al. 2023), HF LlamaAttention semantics:
 * H query heads share KV = H / rep key/value heads (head h uses kv head floor(h / rep), as
 * repeat_interleave). Masked scores get the float32 minimum added (an additive mask, as HF's sdpa
 * path; a fully masked row becomes uniform like masked_fill), then softmax. Queries are scaled by
 * 1/sqrt(D) before the product (same math as scaling the scores).
 *
 * Grouping is done by reshaping q to [B, KV, rep, T, D] and broadcasting k/v [B, KV, 1, Tk, D]
 * through MatMul, so k/v are never copied per query head.
 */
import type { Value } from "../ir/graph.js";
import { and, equal, less, lessOrEqual, not, or } from "../ops/compare.js";
import { add, mul, sub } from "../ops/binary.js";
import { matmul } from "../ops/matmul.js";
import { expand, reshape, transpose, transposeLast2, unsqueeze } from "../ops/shape-ops.js";
import { where } from "../ops/select.js";
import { softmax } from "../ops/softmax.js";

export const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * Boolean attention mask [B, 1, 1, Tq, Tk] from positions and segment ids.
 * Query i sees key j iff pos[j] <= pos[i], seg[j] != 0 and (seg[j] == seg[i] or seg[j] == prefix[i]).
 * With a plain 0/1 attention_mask as segments this is the causal + padding mask; with packed rows
 * (segment ids 1..n) samples do not attend to each other; with `qPrefix` (branched rows, see
 * model/branched.ts) a branch token also sees the segment of its shared prefix. With `slidingWindow` W (Mistral)
 * it also needs pos[i] - pos[j] < W (transformers' sliding_window_overlay `kv_idx > q_idx - W`, with positions in
 * place of cache indices: the same for unpadded, right- and left-padded rows, and per sample in packed rows).
 * @param qPos [B, Tq] int64, qSeg [B, Tq] int64, kPos [B, Tk] int64, kSeg [B, Tk] int64,
 *   qPrefix [B, Tq] int64 (0 = none), slidingWindow a positive integer (undefined = full causal attention).
 */
export function attentionMask(qPos: Value, qSeg: Value, kPos: Value, kSeg: Value, qPrefix?: Value, slidingWindow?: number): Value {
  const qp = unsqueeze(qPos, [1, 2, 4]);
  const qs = unsqueeze(qSeg, [1, 2, 4]);
  const kp = unsqueeze(kPos, [1, 2, 3]);
  const ks = unsqueeze(kSeg, [1, 2, 3]);
  const kValid = not(equal(ks, 0));
  let sameSegment = equal(ks, qs);
  if (qPrefix) sameSegment = or(sameSegment, equal(ks, unsqueeze(qPrefix, [1, 2, 4])));
  let allowed = and(and(lessOrEqual(kp, qp), sameSegment), kValid);
  if (slidingWindow !== undefined) allowed = and(allowed, less(sub(qp, kp), slidingWindow));
  return allowed;
}

/**
 * Additive form of a boolean mask [B, 1, 1, Tq, Tk]: 0 where allowed, the float32 minimum where
 * masked, materialised at the full score shape [B, KV, rep, Tq, Tk] once per forward, so each
 * layer's add is a same-shape add (onnxruntime's broadcasting add is several times slower).
 */
export function maskBias(mask: Value, kvHeads: number, rep: number): Value {
  const bias = where(mask, 0, mask.graph.scalar(FLOAT32_MIN, "float32"));
  const [B, , , Tq, Tk] = bias.shape;
  return expand(bias, [B!, kvHeads, rep, Tq!, Tk!]);
}

/**
 * softmax(q k^T / sqrt(D) + bias) v for grouped heads.
 * @param q [B, H, Tq, D], k and v [B, KV, Tk, D], bias float32 broadcastable to [B, KV, rep, Tq, Tk]
 *   (see {@link maskBias}).
 * @returns [B, H, Tq, D]
 */
export function groupedAttention(q: Value, k: Value, v: Value, bias: Value): Value {
  const [B, H, Tq, D] = q.shape as [number | string, number, number | string, number];
  const KV = k.shape[1] as number;
  const rep = H / KV;
  const qg = reshape(mul(q, 1 / Math.sqrt(D)), [B, KV, rep, Tq, D]);
  const scores = matmul(qg, transposeLast2(unsqueeze(k, [2]))); // [B, KV, rep, Tq, Tk]
  const probs = softmax(add(scores, bias), -1);
  const out = matmul(probs, unsqueeze(v, [2])); // [B, KV, rep, Tq, D]
  return reshape(out, [B, H, Tq, D]);
}

/** [B, T, heads*D] -> [B, heads, T, D]. */
export function splitHeads(x: Value, heads: number, headDim: number): Value {
  const [B, T] = x.shape;
  return transpose(reshape(x, [B!, T!, heads, headDim]), [0, 2, 1, 3]);
}

/** [B, heads, T, D] -> [B, T, heads*D]. */
export function mergeHeads(x: Value): Value {
  const [B, H, T, D] = x.shape;
  return reshape(transpose(x, [0, 2, 1, 3]), [B!, T!, (H as number) * (D as number)]);
}
