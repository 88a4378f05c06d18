/**
 * Draws the input tensors of an op's test case (GradCheckCase) for ops/gradcheck.test.ts and
 * ops/forward-oracle.test.ts.
 */
import { allocTyped, type AnyTypedArray, type DType } from "../ir/dtype.js";
import type { InputSpec } from "../ir/graph.js";
import type { Rng } from "../util/rng.js";

/** Values of input number `k` of a case, drawn from `rng` as `spec.gen` says, as a typed array of `dtype`. */
export function genInput(spec: InputSpec, dtype: DType, k: number, rng: Rng): AnyTypedArray {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const g = spec.gen ?? "normal";
  const out = allocTyped(dtype, n);
  const vals: number[] = [];
  if (typeof g === "object" && "values" in g) vals.push(...g.values);
  else if (typeof g === "object" && "int" in g) for (let i = 0; i < n; i++) vals.push(rng.int(g.int[0], g.int[1]));
  else if (typeof g === "object" && "bool" in g) for (let i = 0; i < n; i++) vals.push(rng.next() < 0.5 ? 1 : 0);
  else if (g === "distinct") {
    const idx = rng.shuffle([...Array(n).keys()]);
    for (const i of idx) vals.push((i - n / 2) * 0.3 + 0.05 + 0.1 * k);
  } else
    for (let i = 0; i < n; i++) vals.push(g === "positive" ? rng.uniform(0.5, 2) : g === "unit" ? rng.uniform(-0.9, 0.9) : rng.normal());
  if (vals.length !== n) throw new Error(`gen: ${vals.length} values for ${n} elements`);
  vals.forEach((v, i) => {
    if (out instanceof BigInt64Array) out[i] = BigInt(v);
    else out[i] = v;
  });
  return out;
}
