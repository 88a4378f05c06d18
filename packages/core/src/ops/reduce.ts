/**
 * Reductions over axes: ReduceSum, ReduceMean, ReduceMax (opset-18 form, axes as an input).
 * attrs: `axes` (integers, negative allowed; empty = all axes), `keepdims` (default false).
 * Oracles: the sum / mean / max of each group of elements that agree off the reduced axes.
 */
import type { GradCheckCase, Node, OpDef, Value } from "../ir/graph.js";
import type { Dim } from "../ir/shape.js";
import { axesAttr, check, expectArity, expectFloat } from "./util.js";
import { div, mul } from "./arith.js";
import { reduceAxes } from "./reference.js";
import { cast, equal } from "./compare.js";
import { expandAs, reshape, reshapeAs, sizeOf, unsqueeze } from "./shape-ops.js";

/** The reduced axes of an input of rank `rank`: `attrs.axes` normalised and sorted; empty means all. */
function reducedAxes(attrs: Record<string, unknown>, rank: number): number[] {
  const axes = (attrs.axes as number[] | undefined) ?? [];
  return axes.length === 0 ? [...Array(rank).keys()] : axesAttr(axes, rank);
}

function resolvedAxes(node: { inputs: readonly Value[]; attrs: Record<string, unknown> }): number[] {
  return reducedAxes(node.attrs, node.inputs[0]!.rank);
}

/** Cotangent of a reduction, re-inserted as size-1 axes and broadcast back to the input shape. */
function expandBack(node: Node, g: Value): Value {
  const axes = resolvedAxes(node);
  const gk = node.attrs.keepdims ? g : unsqueeze(g, axes);
  return expandAs(gk, node.inputs[0]!);
}

/** Forward-oracle cases beyond the gradient checks: a negative axis, and everything reduced into one kept element. */
const FORWARD: GradCheckCase[] = [
  { name: "neg-axis", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [-2] } },
  { name: "all-keepdims", inputs: [{ shape: [3, 4] }], attrs: { axes: [], keepdims: true } },
];

const CHECKS: GradCheckCase[] = [
  { name: "axis", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [1] } },
  { name: "keepdims", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [0, 2], keepdims: true } },
  { name: "all", inputs: [{ shape: [3, 4] }], attrs: { axes: [] } },
];

function reduceOp(name: string, f: (vals: number[]) => number, vjp: OpDef["vjp"], checks = CHECKS, forwardChecks = FORWARD): OpDef {
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
    reference: ([x], attrs) => [reduceAxes(x!, reducedAxes(attrs, x!.shape.length), !!attrs.keepdims, f)],
    forwardChecks,
  };
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

/** Sum over axes; d/dx = broadcast of the cotangent. */
export const reduceSumOp = reduceOp("ReduceSum", sum, (node, grads) => [expandBack(node, grads[0]!)], CHECKS, [
  ...FORWARD,
  { name: "int64", inputs: [{ shape: [3, 4], dtype: "int64", gen: { int: [-5, 6] } }], attrs: { axes: [1] } },
]);
/** Mean over axes; d/dx = broadcast of the cotangent / count (count computed at run time if symbolic). */
export const reduceMeanOp = reduceOp("ReduceMean", (v) => sum(v) / v.length, (node, grads) => {
  const x = node.inputs[0]!;
  return [expandBack(node, div(grads[0]!, sizeOf(x, resolvedAxes(node), x.dtype)))];
});
/** Max over axes; the cotangent is shared evenly among tied maxima (torch.amax behaviour). */
export const reduceMaxOp = reduceOp(
  "ReduceMax",
  (v) => Math.max(...v),
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


