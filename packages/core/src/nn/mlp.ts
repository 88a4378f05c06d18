/** SwiGLU MLP (Shazeer 2020; HF LlamaMLP): down(silu(gate(x)) * up(x)). x: [..., H] -> [..., H]. */
import type { Value } from "../ir/graph.js";
import { mul } from "../ops/binary.js";
import { silu } from "../ops/unary.js";

export function swiglu(gate: Value, up: Value): Value {
  return mul(silu(gate), up);
}
