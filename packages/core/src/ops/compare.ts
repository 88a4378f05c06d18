/**
 * Comparisons and logic (bool outputs, no gradient) and Cast.
 * Comparisons broadcast numpy-style and require equal input dtypes.
 */
import type { DType } from "../ir/dtype.js";
import { ONNX_DTYPE, isFloat } from "../ir/dtype.js";
import type { Value } from "../ir/graph.js";
import type { OpDef } from "./op-def.js";
import { type Operand, broadcastOrThrow, check, expectArity, expectSameDtype, liftPair } from "./util.js";

function compareOp(name: string, onnx: string, boolInputs = false): OpDef {
  return {
    name,
    infer(inputs) {
      expectArity(inputs, 2);
      const d = expectSameDtype(inputs);
      if (boolInputs) check(d === "bool", `${name} needs bool inputs`);
      return [{ dtype: "bool", shape: broadcastOrThrow(inputs[0]!.shape, inputs[1]!.shape) }];
    },
    lower(node, ctx) {
      ctx.emit(onnx, node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)]);
    },
  };
}

export const equalOp = compareOp("Equal", "Equal");
export const lessOp = compareOp("Less", "Less");
export const lessOrEqualOp = compareOp("LessOrEqual", "LessOrEqual");
export const greaterOp = compareOp("Greater", "Greater");
export const greaterOrEqualOp = compareOp("GreaterOrEqual", "GreaterOrEqual");
export const andOp = compareOp("And", "And", true);
export const orOp = compareOp("Or", "Or", true);

export const notOp: OpDef = {
  name: "Not",
  infer(inputs) {
    expectArity(inputs, 1);
    check(inputs[0]!.dtype === "bool", "Not needs a bool input");
    return [{ dtype: "bool", shape: [...inputs[0]!.shape] }];
  },
  lower(node, ctx) {
    ctx.emit("Not", [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)]);
  },
};

/**
 * Cast to another dtype. Float-to-float casts pass the cotangent back (cast to the input dtype);
 * casts to or from integer/bool types carry no gradient.
 */
export const castOp: OpDef = {
  name: "Cast",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const to = attrs.to as DType;
    check(typeof to === "string" && to in ONNX_DTYPE, `unknown target dtype ${String(to)}`);
    return [{ dtype: to, shape: [...inputs[0]!.shape] }];
  },
  lower(node, ctx) {
    ctx.emit("Cast", [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)], { to: ONNX_DTYPE[node.attrs.to as DType] });
  },
  vjp(node, grads) {
    const x = node.inputs[0]!;
    if (!isFloat(x.dtype) || !isFloat(node.outputs[0]!.dtype)) return [null];
    return [cast(grads[0]!, x.dtype)];
  },
  checks: [{ name: "f32-to-f64", inputs: [{ shape: [2, 3] }], attrs: { to: "float64" }, dtype: "float32" }],
};

const cmp = (op: OpDef) => (a: Operand, b: Operand): Value => {
  const [x, y] = liftPair(a, b);
  return x.graph.apply(op, [x, y])[0]!;
};
/** a == b (bool, broadcasting). */
export const equal = cmp(equalOp);
/** a < b (bool, broadcasting). */
export const less = cmp(lessOp);
/** a <= b (bool, broadcasting). */
export const lessOrEqual = cmp(lessOrEqualOp);
/** a > b (bool, broadcasting). */
export const greater = cmp(greaterOp);
/** a >= b (bool, broadcasting). */
export const greaterOrEqual = cmp(greaterOrEqualOp);
/** Logical and of bool tensors. */
export const and = cmp(andOp);
/** Logical or of bool tensors. */
export const or = cmp(orOp);
/** Logical not of a bool tensor. */
export const not = (x: Value): Value => x.graph.apply(notOp, [x])[0]!;
/** Converts `x` to `dtype` (no-op node elided when the dtype already matches). */
export const cast = (x: Value, dtype: DType): Value => (x.dtype === dtype ? x : x.graph.apply(castOp, [x], { to: dtype })[0]!);
