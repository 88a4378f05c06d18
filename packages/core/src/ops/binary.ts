/**
 * Broadcasting elementwise Max and Min, and the arithmetic ops of arith.ts (re-exported here so that
 * `ops/binary.js` keeps offering every broadcasting binary op but Pow, which lives in pow.ts).
 * Shapes broadcast numpy-style; both operands must share a float or integer dtype.
 */
import type { GradCheckCase, Node, Value } from "../ir/graph.js";
import type { Operand } from "./util.js";
import { add, applyBinary, binaryOp, mul, sub } from "./arith.js";
import { cast, equal, greater } from "./compare.js";

export { addOp, subOp, mulOp, divOp, add, sub, mul, div } from "./arith.js";

/** Ties split the cotangent evenly between both operands (torch.maximum/minimum behaviour). */
function minMaxVjp(isMax: boolean) {
  return (n: Node, g: Value, needs: boolean[]): (Value | null)[] => {
    const [a, b] = n.inputs as [Value, Value];
    const win = isMax ? greater(a, b) : greater(b, a);
    const maskA = add(cast(win, g.dtype), mul(cast(equal(a, b), g.dtype), 0.5));
    return [needs[0] ? mul(g, maskA) : null, needs[1] ? mul(g, sub(1, maskA)) : null];
  };
}
const MINMAX_CHECKS: GradCheckCase[] = [
  { name: "same", inputs: [{ shape: [2, 3], gen: "distinct" }, { shape: [2, 3], gen: "distinct" }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3], gen: "distinct" }, { shape: [4, 1], gen: "distinct" }] },
];
/** ONNX Max (two inputs): the larger operand. */
export const maxOp = binaryOp("Max", "Max", (a, b) => Math.max(a, b), minMaxVjp(true), MINMAX_CHECKS);
/** ONNX Min (two inputs): the smaller operand. */
export const minOp = binaryOp("Min", "Min", (a, b) => Math.min(a, b), minMaxVjp(false), MINMAX_CHECKS);

/** Elementwise maximum (broadcasting). */
export const maximum = (a: Operand, b: Operand): Value => applyBinary(maxOp, a, b);
/** Elementwise minimum (broadcasting). */
export const minimum = (a: Operand, b: Operand): Value => applyBinary(minOp, a, b);
