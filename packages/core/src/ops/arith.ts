/**
 * Broadcasting arithmetic Add, Sub, Mul, Div: the primitives the other ops' VJPs are written in.
 * This module imports no other op module, so binary.ts, unary.ts, pow.ts and the rest build on it
 * without import cycles.
 * Shapes broadcast numpy-style; both operands must share a float or integer dtype.
 * VJPs return cotangents in the broadcast shape; the autodiff driver unbroadcasts.
 */
import type { GradCheckCase, Node, OpDef, Value } from "../ir/graph.js";
import { elementwise, toDtype } from "./reference.js";
import { type Operand, broadcastOrThrow, expectArity, expectSameDtype, liftPair } from "./util.js";

type Vjp = (node: Node, g: Value, needs: boolean[]) => (Value | null)[];

/** Default gradient checks of a broadcasting binary op. */
const BCAST: GradCheckCase[] = [
  { name: "same", inputs: [{ shape: [2, 3] }, { shape: [2, 3] }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1] }] },
  { name: "scalar", inputs: [{ shape: [3, 2] }, { shape: [] }] },
];

/** Forward-oracle case on int64 operands (broadcast, negative values included). */
const INT_CASE: GradCheckCase = {
  name: "int64",
  inputs: [{ shape: [2, 3], dtype: "int64", gen: { int: [-9, 10] } }, { shape: [3], dtype: "int64", gen: { values: [3, -2, 4] } }],
};

/**
 * A broadcasting binary op lowered to the ONNX op `onnx`. Forward oracle: `f` elementwise under numpy
 * broadcasting, its result converted to the operands' dtype (so integer division truncates toward
 * zero, as C and onnxruntime's integer kernels do).
 */
export function binaryOp(
  name: string,
  onnx: string,
  f: (a: number, b: number) => number,
  vjp: Vjp,
  checks: GradCheckCase[] = BCAST,
  forwardChecks: GradCheckCase[] = [INT_CASE],
): OpDef {
  return {
    name,
    infer(inputs) {
      expectArity(inputs, 2);
      const dtype = expectSameDtype(inputs);
      return [{ dtype, shape: broadcastOrThrow(inputs[0]!.shape, inputs[1]!.shape) }];
    },
    lower(node, ctx) {
      ctx.emit(onnx, node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)]);
    },
    vjp: (node, grads, needs) => vjp(node, grads[0]!, needs),
    checks,
    reference: (inputs) => [elementwise(inputs, (a, b) => toDtype(f(a, b), inputs[0]!.dtype))],
    forwardChecks,
  };
}

/** Applies a binary op to two operands, numbers becoming scalars of the other operand's dtype. */
export function applyBinary(op: OpDef, a: Operand, b: Operand): Value {
  const [x, y] = liftPair(a, b);
  return x.graph.apply(op, [x, y])[0]!;
}

/** ONNX Add: a + b. */
export const addOp = binaryOp("Add", "Add", (a, b) => a + b, (_n, g) => [g, g]);
/** ONNX Sub: a - b. */
export const subOp = binaryOp("Sub", "Sub", (a, b) => a - b, (_n, g, needs) => [g, needs[1] ? neg1(g) : null]);
/** ONNX Mul: a * b. */
export const mulOp = binaryOp("Mul", "Mul", (a, b) => a * b, (n, g, needs) => {
  const [a, b] = n.inputs as [Value, Value];
  return [needs[0] ? mul(g, b) : null, needs[1] ? mul(g, a) : null];
});
/** ONNX Div: a / b (integer operands: truncated toward zero). */
export const divOp = binaryOp("Div", "Div", (a, b) => a / b, (n, g, needs) => {
  const [, b] = n.inputs as [Value, Value];
  const y = n.outputs[0]!;
  const ga = div(g, b);
  return [needs[0] ? ga : null, needs[1] ? neg1(mul(ga, y)) : null];
}, [
  { name: "same", inputs: [{ shape: [2, 3] }, { shape: [2, 3], gen: "positive" }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1], gen: "positive" }] },
]);

/** a + b (broadcasting). */
export const add = (a: Operand, b: Operand): Value => applyBinary(addOp, a, b);
/** a - b (broadcasting). */
export const sub = (a: Operand, b: Operand): Value => applyBinary(subOp, a, b);
/** a * b (broadcasting). */
export const mul = (a: Operand, b: Operand): Value => applyBinary(mulOp, a, b);
/** a / b (broadcasting). */
export const div = (a: Operand, b: Operand): Value => applyBinary(divOp, a, b);

const neg1 = (x: Value): Value => mul(x, -1);
