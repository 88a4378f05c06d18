/**
 * Broadcasting Pow. Its own module because its VJP needs Log: pow.ts sits above both arith.ts and
 * unary.ts, so neither of those imports the other or this one.
 */
import type { OpDef, Value } from "../ir/graph.js";
import type { Operand } from "./util.js";
import { applyBinary, binaryOp, mul, sub } from "./arith.js";
import { log } from "./unary.js";

/** ONNX Pow: a ** b; d/da = b a^(b-1), d/db = a^b ln a. */
export const powOp: OpDef = binaryOp(
  "Pow",
  "Pow",
  (a, b) => Math.pow(a, b),
  (n, g, needs) => {
    const [a, b] = n.inputs as [Value, Value];
    const y = n.outputs[0]!;
    return [needs[0] ? mul(g, mul(b, pow(a, sub(b, 1)))) : null, needs[1] ? mul(g, mul(y, log(a))) : null];
  },
  [
    { name: "same", inputs: [{ shape: [2, 3], gen: "positive" }, { shape: [2, 3] }] },
    { name: "broadcast", inputs: [{ shape: [2, 1, 3], gen: "positive" }, { shape: [4, 1] }] },
  ],
  [
    { name: "int64", inputs: [{ shape: [2, 3], dtype: "int64", gen: { int: [-4, 5] } }, { shape: [3], dtype: "int64", gen: { values: [0, 1, 3] } }] },
    { name: "negative-base", inputs: [{ shape: [2, 3] }, { shape: [3], gen: { values: [2, 3, -1] } }] },
  ],
);

/** a ** b (broadcasting). */
export const pow = (a: Operand, b: Operand): Value => applyBinary(powOp, a, b);
