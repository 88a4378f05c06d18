/**
 * Rotary position embeddings (Su et al. 2021, RoFormer) in Hugging Face's rotate_half convention:
 *   q' = q * cos + rotate_half(q) * sin,  rotate_half([x1, x2]) = [-x2, x1],
 * with angles pos * theta^(-2i/D) repeated over both halves. `rope_scaling` of type "llama3" rescales
 * the inverse frequencies as transformers' `_compute_llama3_parameters` does.
 */
import type { Value } from "../ir/graph.js";
import { add, mul } from "../ops/binary.js";
import { gather } from "../ops/index-ops.js";
import { concat, slice, unsqueeze } from "../ops/shape-ops.js";
import { neg } from "../ops/unary.js";

export interface Llama3RopeScaling {
  ropeType: "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** Inverse frequencies theta^(-2i/D), i < D/2, optionally llama3-scaled. Float64 math, as in the reference. */
export function inverseFrequencies(headDim: number, theta: number, scaling?: Llama3RopeScaling | null): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (!scaling) return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldCtx } = scaling;
  const lowWavelen = oldCtx / lowFreqFactor;
  const highWavelen = oldCtx / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i]!;
    if (wavelen > lowWavelen) inv[i] = inv[i]! / factor;
    else if (wavelen >= highWavelen) {
      const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i]! / factor) + smooth * inv[i]!;
    }
  }
  return inv;
}

/**
 * cos/sin for positions [B, T] (int64, each < maxPositions) -> each [B, 1, T, D] float32.
 * The tables [maxPositions, D] are computed in float64 in JS and embedded as constants; the graph gathers rows.
 */
export function rotaryTables(
  positions: Value,
  headDim: number,
  theta: number,
  maxPositions: number,
  scaling?: Llama3RopeScaling | null,
): { cos: Value; sin: Value } {
  const g = positions.graph;
  const inv = inverseFrequencies(headDim, theta, scaling);
  const half = headDim / 2;
  const cosT = new Float32Array(maxPositions * headDim);
  const sinT = new Float32Array(maxPositions * headDim);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < headDim; i++) {
      const a = p * inv[i % half]!;
      cosT[p * headDim + i] = Math.cos(a);
      sinT[p * headDim + i] = Math.sin(a);
    }
  }
  const cos = gather(g.constant(cosT, "float32", [maxPositions, headDim]), positions);
  const sin = gather(g.constant(sinT, "float32", [maxPositions, headDim]), positions);
  return { cos: unsqueeze(cos, [1]), sin: unsqueeze(sin, [1]) };
}

/** Applies rotary embeddings to x: [B, heads, T, D] with tables [B, 1, T, D]. */
export function applyRotary(x: Value, cos: Value, sin: Value): Value {
  const D = x.shape[x.rank - 1] as number;
  const x1 = slice(x, [-1], [0], [D / 2]);
  const x2 = slice(x, [-1], [D / 2], [D]);
  const rotated = concat([neg(x2), x1], -1);
  return add(mul(x, cos), mul(rotated, sin));
}
