/**
 * Broadcasting elementwise binary ops: Add, Sub, Mul, Div, Pow, Max, Min.
 * Shapes broadcast numpy-style; both operands must share a float or integer dtype.
 * VJPs return cotangents in the broadcast shape; the autodiff driver unbroadcasts.
 */
import type { Node, Value } from "../ir/graph.js";
import type { GradCheckCase, OpDef } from "./op-def.js";
import { type Operand, broadcastOrThrow, expectArity, expectSameDtype, liftPair } from "./util.js";
import { cast, equal, greater } from "./compare.js";
import { log } from "./unary.js";

type Vjp = (node: Node, g: Value, needs: boolean[]) => (Value | null)[];

const BCAST: GradCheckCase[] = [
  { name: "same", inputs: [{ shape: [2, 3] }, { shape: [2, 3] }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1] }] },
  { name: "scalar", inputs: [{ shape: [3, 2] }, { shape: [] }] },
];

function binaryOp(name: string, onnx: string, vjp: Vjp, checks: GradCheckCase[] = BCAST): OpDef {
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
  };
}

function apply2(op: OpDef, a: Operand, b: Operand): Value {
  const [x, y] = liftPair(a, b);
  return x.graph.apply(op, [x, y])[0]!;
}

export const addOp = binaryOp("Add", "Add", (_n, g) => [g, g]);
export const subOp = binaryOp("Sub", "Sub", (_n, g, needs) => [g, needs[1] ? neg1(g) : null]);
export const mulOp = binaryOp("Mul", "Mul", (n, g, needs) => {
  const [a, b] = n.inputs as [Value, Value];
  return [needs[0] ? mul(g, b) : null, needs[1] ? mul(g, a) : null];
});
export const divOp = binaryOp("Div", "Div", (n, g, needs) => {
  const [, b] = n.inputs as [Value, Value];
  const y = n.outputs[0]!;
  const ga = div(g, b);
  return [needs[0] ? ga : null, needs[1] ? neg1(mul(ga, y)) : null];
}, [
  { name: "same", inputs: [{ shape: [2, 3] }, { shape: [2, 3], gen: "positive" }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1], gen: "positive" }] },
]);
export const powOp = binaryOp("Pow", "Pow", (n, g, needs) => {
  const [a, b] = n.inputs as [Value, Value];
  const y = n.outputs[0]!;
  return [
    needs[0] ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    needs[1] ? mul(g, mul(y, log(a))) : null,
  ];
}, [
  { name: "same", inputs: [{ shape: [2, 3], gen: "positive" }, { shape: [2, 3] }] },
  { name: "broadcast", inputs: [{ shape: [2, 1, 3], gen: "positive" }, { shape: [4, 1] }] },
]);
/** Ties split the cotangent evenly between both operands (torch.maximum/minimum behaviour). */
function minMaxVjp(isMax: boolean): Vjp {
  return (n, g, needs) => {
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
export const maxOp = binaryOp("Max", "Max", minMaxVjp(true), MINMAX_CHECKS);
export const minOp = binaryOp("Min", "Min", minMaxVjp(false), MINMAX_CHECKS);

/** a + b (broadcasting). */
export const add = (a: Operand, b: Operand): Value => apply2(addOp, a, b);
/** a - b (broadcasting). */
export const sub = (a: Operand, b: Operand): Value => apply2(subOp, a, b);
/** a * b (broadcasting). */
export const mul = (a: Operand, b: Operand): Value => apply2(mulOp, a, b);
/** a / b (broadcasting). */
export const div = (a: Operand, b: Operand): Value => apply2(divOp, a, b);
/** a ** b (broadcasting); d/da = b a^(b-1), d/db = a^b ln a. */
export const pow = (a: Operand, b: Operand): Value => apply2(powOp, a, b);
/** Elementwise maximum (broadcasting). */
export const maximum = (a: Operand, b: Operand): Value => apply2(maxOp, a, b);
/** Elementwise minimum (broadcasting). */
export const minimum = (a: Operand, b: Operand): Value => apply2(minOp, a, b);

const neg1 = (x: Value): Value => mul(x, -1);
