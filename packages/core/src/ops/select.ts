/** Where and Clip (ONNX semantics: Where broadcasts all three inputs; Clip is min(max(x, lo), hi)). */
import type { OpDef, Value } from "../ir/graph.js";
import { type Operand, broadcastOrThrow, check, expectArity, expectFloat, lift } from "./util.js";
import { and, cast, greaterOrEqual, lessOrEqual } from "./compare.js";
import { mul } from "./arith.js";
import { elementwise } from "./reference.js";
import { zerosLike } from "./shape-ops.js";

/** where(cond, a, b) with broadcasting; VJP routes the cotangent to the chosen branch. */
export const whereOp: OpDef = {
  name: "Where",
  infer(inputs) {
    expectArity(inputs, 3);
    const [c, a, b] = inputs as [Value, Value, Value];
    check(c.dtype === "bool", `condition must be bool, got ${c.dtype}`);
    check(a.dtype === b.dtype, `branch dtypes differ: ${a.dtype} vs ${b.dtype}`);
    return [{ dtype: a.dtype, shape: broadcastOrThrow(c.shape, a.shape, b.shape) }];
  },
  lower(node, ctx) {
    ctx.emit("Where", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)]);
  },
  vjp(node, grads, needs) {
    const c = node.inputs[0]!;
    const g = grads[0]!;
    const z = zerosLike(g);
    return [null, needs[1] ? where(c, g, z) : null, needs[2] ? where(c, z, g) : null];
  },
  checks: [
    {
      name: "broadcast",
      inputs: [{ shape: [2, 3], dtype: "bool", gen: { bool: true } }, { shape: [2, 3] }, { shape: [3] }],
    },
  ],
  reference: (inputs) => [elementwise(inputs, (c, a, b) => (c !== 0 ? a : b))],
  forwardChecks: [
    {
      name: "int64-bcast-cond",
      inputs: [{ shape: [3, 1], dtype: "bool", gen: { values: [1, 0, 1] } }, { shape: [4], dtype: "int64", gen: { int: [0, 9] } }, { shape: [3, 4], dtype: "int64", gen: { int: [-9, 0] } }],
    },
  ],
};

/** Elementwise select; numbers become scalars of the other branch's dtype. */
export function where(cond: Value, a: Operand, b: Operand): Value {
  const av = typeof a === "number" ? lift(a, b as Value) : a;
  const bv = typeof b === "number" ? lift(b, av) : b;
  return cond.graph.apply(whereOp, [cond, av, bv])[0]!;
}

/** Clamps to [min, max]; the cotangent passes where min <= x <= max (torch.clamp). */
export const clipOp: OpDef = {
  name: "Clip",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    expectFloat(inputs[0]!);
    check(typeof attrs.min === "number" && typeof attrs.max === "number" && attrs.min <= attrs.max, `bad bounds min=${attrs.min} max=${attrs.max}`);
    return [{ dtype: inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
  },
  lower(node, ctx) {
    const x = node.inputs[0]!;
    ctx.emit("Clip", [ctx.name(x), ctx.scalar(node.attrs.min as number, x.dtype), ctx.scalar(node.attrs.max as number, x.dtype)], [ctx.name(node.outputs[0]!)]);
  },
  vjp(node, grads) {
    const x = node.inputs[0]!;
    const inside = and(greaterOrEqual(x, node.attrs.min as number), lessOrEqual(x, node.attrs.max as number));
    return [mul(grads[0]!, cast(inside, x.dtype))];
  },
  checks: [{ name: "clamped", inputs: [{ shape: [3, 4], gen: "distinct" }], attrs: { min: -0.5, max: 0.7 } }],
  reference: ([x], attrs) => [{ data: x!.data.map((v) => Math.min(Math.max(v, attrs.min as number), attrs.max as number)), shape: [...x!.shape] }],
  forwardChecks: [{ name: "asymmetric", inputs: [{ shape: [3, 4] }], attrs: { min: -1.5, max: 0.25 } }],
};

/** Clamps `x` to [min, max]. */
export const clip = (x: Value, min: number, max: number): Value => x.graph.apply(clipOp, [x], { min, max })[0]!;
