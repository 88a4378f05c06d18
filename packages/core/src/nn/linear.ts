/**
 * Linear layer in Hugging Face layout: y = x W^T (+ b), W: [out, in] float32, x: [..., in] -> y: [..., out].
 * With a LoRA adapter (Hu et al. 2021, eq. 3; PEFT's LoraLayer): y += scaling * (drop(x) A^T) B^T,
 * A: [r, in], B: [out, r]. Frozen W receives no gradient work unless asked for.
 */
import type { Value } from "../ir/graph.js";
import { add, mul } from "../ops/binary.js";
import { matmulT } from "../ops/matmul.js";

export interface LoraWeights {
  /** lora_A: [r, in]. */
  a: Value;
  /** lora_B: [out, r]. */
  b: Value;
  /** lora_alpha / r (or lora_alpha / sqrt(r) with rsLoRA). */
  scaling: number;
  /** Optional inverted-dropout mask for x, [..., in], entries 0 or 1/(1-p). */
  dropoutMask?: Value;
}

export function linear(x: Value, weight: Value, bias?: Value, lora?: LoraWeights): Value {
  let y = matmulT(x, weight);
  if (bias) y = add(y, bias);
  if (lora) {
    const xin = lora.dropoutMask ? mul(x, lora.dropoutMask) : x;
    y = add(y, mul(matmulT(matmulT(xin, lora.a), lora.b), lora.scaling));
  }
  return y;
}
