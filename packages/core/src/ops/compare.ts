/**
 * Comparisons and logic (bool outputs, no gradient) and Cast.
 * Comparisons broadcast numpy-style and require equal input dtypes. Forward oracles: the ONNX operator
 * of the same name, elementwise under broadcasting, true as 1.
 */
import type { DType } from "../ir/dtype.js";
import { ONNX_DTYPE, isFloat } from "../ir/dtype.js";
import type { GradCheckCase, OpDef, Value } from "../ir/graph.js";
import { elementwise, toDtype } from "./reference.js";
import { type Operand, broadcastOrThrow, check, expectArity, expectSameDtype, liftPair } from "./util.js";

/** Small integers (ties are common) and floats, broadcasting. */
const COMPARE_CASES: GradCheckCase[] = [
  { name: "int64-ties", inputs: [{ shape: [3, 4], dtype: "int64", gen: { int: [0, 3] } }, { shape: [4], dtype: "int64", gen: { int: [0, 3] } }] },
  { name: "float", inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1] }] },
];
const BOOL_CASES: GradCheckCase[] = [{ name: "bool", inputs: [{ shape: [3, 4], dtype: "bool", gen: { bool: true } }, { shape: [4], dtype: "bool", gen: { values: [0, 1, 1, 0] } }] }];

function compareOp(name: string, onnx: string, f: (a: number, b: number) => boolean, boolInputs = false): OpDef {
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
    reference: (inputs) => [elementwise(inputs, (a, b) => (f(a, b) ? 1 : 0))],
    forwardChecks: boolInputs ? BOOL_CASES : COMPARE_CASES,
  };
}

export const equalOp = compareOp("Equal", "Equal", (a, b) => a === b);
export const lessOp = compareOp("Less", "Less", (a, b) => a < b);
export const lessOrEqualOp = compareOp("LessOrEqual", "LessOrEqual", (a, b) => a <= b);
export const greaterOp = compareOp("Greater", "Greater", (a, b) => a > b);
export const greaterOrEqualOp = compareOp("GreaterOrEqual", "GreaterOrEqual", (a, b) => a >= b);
export const andOp = compareOp("And", "And", (a, b) => a !== 0 && b !== 0, true);
export const orOp = compareOp("Or", "Or", (a, b) => a !== 0 || b !== 0, true);

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
  reference: ([x]) => [{ data: x!.data.map((v) => (v !== 0 ? 0 : 1)), shape: [...x!.shape] }],
  forwardChecks: [{ name: "bool", inputs: [{ shape: [2, 3], dtype: "bool", gen: { bool: true } }] }],
};

/**
 * Cast to another dtype. Float-to-float casts pass the cotangent back (cast to the input dtype);
 * casts to or from integer/bool types carry no gradient.
 * Oracle (ONNX Cast): float to integer truncates toward zero, to bool is x != 0, to float32 rounds to nearest.
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
  reference: ([x], attrs) => [{ data: x!.data.map((v) => toDtype(v, attrs.to as DType)), shape: [...x!.shape] }],
  forwardChecks: [
    { name: "f64-to-int64", inputs: [{ shape: [2, 4], gen: { values: [-2.7, -1.2, -0.5, 0, 0.5, 1.9, 2.5, 7.99] } }], attrs: { to: "int64" } },
    { name: "f64-to-bool", inputs: [{ shape: [2, 3], gen: { values: [0, -0.1, 2, 0, 1e-9, -3] } }], attrs: { to: "bool" } },
    { name: "f64-to-f32", inputs: [{ shape: [2, 3] }], attrs: { to: "float32" } },
    { name: "bool-to-f32", inputs: [{ shape: [2, 3], dtype: "bool", gen: { bool: true } }], attrs: { to: "float32" } },
    { name: "int64-to-f64", inputs: [{ shape: [2, 3], dtype: "int64", gen: { int: [-5, 6] } }], attrs: { to: "float64" } },
  ],
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
