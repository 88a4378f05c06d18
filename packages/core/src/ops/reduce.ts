/**
 * Reductions over axes: ReduceSum, ReduceMean, ReduceMax (opset-18 form, axes as an input).
 * attrs: `axes` (integers, negative allowed; empty = all axes), `keepdims` (default false).
 */
import type { Node, Value } from "../ir/graph.js";
import type { Dim } from "../ir/shape.js";
import type { GradCheckCase, OpDef } from "./op-def.js";
import { axesAttr, check, expectArity, expectFloat } from "./util.js";
import { div, mul } from "./binary.js";
import { cast, equal } from "./compare.js";
import { expandAs, reshape, reshapeAs, sizeOf, unsqueeze } from "./shape-ops.js";

function resolvedAxes(node: { inputs: readonly Value[]; attrs: Record<string, unknown> }): number[] {
  const x = node.inputs[0]!;
  const axes = (node.attrs.axes as number[] | undefined) ?? [];
  return axes.length === 0 ? x.shape.map((_, i) => i) : axesAttr(axes, x.rank);
}

/** Cotangent of a reduction, re-inserted as size-1 axes and broadcast back to the input shape. */
function expandBack(node: Node, g: Value): Value {
  const axes = resolvedAxes(node);
  const gk = node.attrs.keepdims ? g : unsqueeze(g, axes);
  return expandAs(gk, node.inputs[0]!);
}

const CHECKS: GradCheckCase[] = [
  { name: "axis", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [1] } },
  { name: "keepdims", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [0, 2], keepdims: true } },
  { name: "all", inputs: [{ shape: [3, 4] }], attrs: { axes: [] } },
];

function reduceOp(name: string, vjp: OpDef["vjp"], checks = CHECKS): OpDef {
  return {
    name,
    infer(inputs, attrs) {
      expectArity(inputs, 1);
      if (name !== "ReduceSum") expectFloat(inputs[0]!);
      const x = inputs[0]!;
      const axes = resolvedAxes({ inputs, attrs });
      const shape: Dim[] = [];
      x.shape.forEach((d, i) => {
        if (!axes.includes(i)) shape.push(d);
        else if (attrs.keepdims) shape.push(1);
      });
      return [{ dtype: x.dtype, shape }];
    },
    lower(node, ctx) {
      const axes = resolvedAxes(node);
      ctx.emit(name, [ctx.name(node.inputs[0]!), ctx.int64s(axes)], [ctx.name(node.outputs[0]!)], { keepdims: node.attrs.keepdims ? 1 : 0 });
    },
    vjp,
    checks,
  };
}

/** Sum over axes; d/dx = broadcast of the cotangent. */
export const reduceSumOp = reduceOp("ReduceSum", (node, grads) => [expandBack(node, grads[0]!)]);
/** Mean over axes; d/dx = broadcast of the cotangent / count (count computed at run time if symbolic). */
export const reduceMeanOp = reduceOp("ReduceMean", (node, grads) => {
  const x = node.inputs[0]!;
  return [expandBack(node, div(grads[0]!, sizeOf(x, resolvedAxes(node), x.dtype)))];
});
/** Max over axes; the cotangent is shared evenly among tied maxima (torch.amax behaviour). */
export const reduceMaxOp = reduceOp(
  "ReduceMax",
  (node, grads) => {
    const x = node.inputs[0]!;
    const y = node.outputs[0]!;
    const axes = resolvedAxes(node);
    const yk = node.attrs.keepdims ? y : unsqueeze(y, axes);
    const mask = cast(equal(x, expandAs(yk, x)), x.dtype);
    const count = reduceSum(mask, axes, true);
    return [mul(expandBack(node, grads[0]!), div(mask, count))];
  },
  [
    { name: "axis", inputs: [{ shape: [2, 3, 4], gen: "distinct" }], attrs: { axes: [1] } },
    { name: "keepdims", inputs: [{ shape: [2, 3, 4], gen: "distinct" }], attrs: { axes: [-1], keepdims: true } },
  ],
);

/** Sum over `axes` (all axes when empty). */
export const reduceSum = (x: Value, axes: number[] = [], keepdims = false): Value => x.graph.apply(reduceSumOp, [x], { axes, keepdims })[0]!;
/** Mean over `axes` (all axes when empty). */
export const reduceMean = (x: Value, axes: number[] = [], keepdims = false): Value => x.graph.apply(reduceMeanOp, [x], { axes, keepdims })[0]!;
/** Max over `axes` (all axes when empty). */
export const reduceMax = (x: Value, axes: number[] = [], keepdims = false): Value => x.graph.apply(reduceMaxOp, [x], { axes, keepdims })[0]!;

/** Sum of `x` over `axes`, reshaped to `shape` (used by the autodiff driver to unbroadcast). */
export function sumTo(x: Value, shape: readonly Dim[], like: Value): Value {
  const lead = x.rank - shape.length;
  check(lead >= 0, `sumTo: rank ${x.rank} below target rank ${shape.length}`);
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && x.shape[i] !== 1) axes.push(i);
  }
  const s = axes.length ? reduceSum(x, axes, true) : x;
  if (s.rank === shape.length && s.shape.every((d, i) => d === shape[i])) return s;
  try {
    return reshape(s, shape, like);
  } catch {
    return reshapeAs(s, like); // symbolic names that differ only in spelling (e.g. "T+1-1" vs "T")
  }
}


