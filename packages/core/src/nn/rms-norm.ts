/**
 * RMSNorm (Zhang & Sennrich 2019; HF LlamaRMSNorm): y = x / sqrt(mean(x^2, -1) + eps) * w.
 * x: [..., H] float32, w: [H] -> [..., H]. Gradients come from the primitives.
 */
import type { Value } from "../ir/graph.js";
import { add, mul } from "../ops/binary.js";
import { reciprocal, sqrt } from "../ops/unary.js";
import { reduceMean } from "../ops/reduce.js";

export function rmsNorm(x: Value, weight: Value, eps: number): Value {
  const variance = reduceMean(mul(x, x), [-1], true);
  return mul(mul(x, reciprocal(sqrt(add(variance, eps)))), weight);
}
