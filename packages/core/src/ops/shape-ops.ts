/**
 * Shape ops: Reshape, ReshapeAs, Transpose, Expand, ExpandAs, Squeeze, Unsqueeze, Concat, Slice, Split, Pad.
 * Static targets are attributes; where a target has symbolic dimensions that cannot be expressed with
 * ONNX's 0 (copy) / -1 (infer) / 1 (keep) conventions, use the `*As` variants, which take the runtime
 * shape of another value.
 * Forward oracles follow the ONNX operators of the same names (constant-mode Pad; FullLike is
 * ConstantOfShape; SizeOf is the product of the selected dims).
 */
import type { LowerContext, Node, OpDef, Value } from "../ir/graph.js";
import { type DType, ONNX_DTYPE } from "../ir/dtype.js";
import {
  type Dim,
  divideFactors,
  dimFromFactors,
  factorize,
  factorsEqual,
  formatShape,
  isStatic,
  normAxis,
} from "../ir/shape.js";
import { axesAttr, broadcastOrThrow, check, expectArity } from "./util.js";
import { at, atBroadcast, axisOf, broadcastShape, build, numel, toDtype } from "./reference.js";

const out0 = (node: Node, ctx: LowerContext) => ctx.name(node.outputs[0]!);
const in0 = (node: Node, ctx: LowerContext) => ctx.name(node.inputs[0]!);

// ---------------------------------------------------------------- Reshape

/** Resolves a target spec (dims, or -1 once) against the input's element count. */
function resolveReshape(input: readonly Dim[], spec: readonly Dim[]): Dim[] {
  const total = factorize(input);
  const holes = spec.filter((d) => d === -1).length;
  check(holes <= 1, `at most one -1 in target ${formatShape(spec)}`);
  const known = factorize(spec.filter((d) => d !== -1));
  if (holes === 1) {
    const q = divideFactors(total, known);
    check(q !== null, `cannot infer -1: ${formatShape(input)} into ${formatShape(spec)}`);
    return spec.map((d) => (d === -1 ? dimFromFactors(q) : d));
  }
  check(factorsEqual(total, known), `element count of ${formatShape(input)} differs from ${formatShape(spec)}`);
  return [...spec];
}

/** ONNX shape spec using 0 for dims copied from the same input position and -1 once; null if impossible. */
function onnxReshapeSpec(input: readonly Dim[], target: readonly Dim[]): number[] | null {
  let holes = 0;
  const spec = target.map((d, i) => {
    if (typeof d === "number") return d;
    if (input[i] === d) return 0;
    holes++;
    return -1;
  });
  if (target.some((d) => d === 0)) return null; // 0 would mean "copy" in ONNX
  return holes <= 1 ? spec : null;
}

export const reshapeOp: OpDef = {
  name: "Reshape",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const shape = resolveReshape(inputs[0]!.shape, attrs.shape as Dim[]);
    check(onnxReshapeSpec(inputs[0]!.shape, shape) !== null, `target ${formatShape(shape)} needs reshapeAs (too many symbolic dims)`);
    return [{ dtype: inputs[0]!.dtype, shape }];
  },
  lower(node, ctx) {
    const spec = onnxReshapeSpec(node.inputs[0]!.shape, node.outputs[0]!.shape)!;
    ctx.emit("Reshape", [in0(node, ctx), ctx.int64s(spec)], [out0(node, ctx)]);
  },
  vjp(node, grads) {
    return [reshape(grads[0]!, node.inputs[0]!.shape, node.inputs[0]!)];
  },
  checks: [{ name: "split-dim", inputs: [{ shape: [2, 6] }], attrs: { shape: [2, 2, 3] } }],
  /** Same row-major data; a -1 in the target takes the remaining element count. */
  reference: ([x], attrs) => {
    const spec = attrs.shape as number[];
    const known = numel(spec.filter((d) => d !== -1));
    return [{ data: x!.data.slice(), shape: spec.map((d) => (d === -1 ? numel(x!.shape) / known : d)) }];
  },
  forwardChecks: [{ name: "infer-dim-int64", inputs: [{ shape: [2, 3, 4], dtype: "int64", gen: { int: [-9, 10] } }], attrs: { shape: [-1, 4] } }],
};

/** Reshape to the runtime shape of `like` (same element count). */
export const reshapeAsOp: OpDef = {
  name: "ReshapeAs",
  infer(inputs) {
    expectArity(inputs, 2);
    const [x, like] = inputs as [Value, Value];
    if (isStatic(x.shape) && isStatic(like.shape)) check(factorsEqual(factorize(x.shape), factorize(like.shape)), "element counts differ");
    return [{ dtype: inputs[0]!.dtype, shape: [...inputs[1]!.shape] }];
  },
  lower(node, ctx) {
    const s = ctx.fresh("shape");
    ctx.emit("Shape", [ctx.name(node.inputs[1]!)], [s]);
    ctx.emit("Reshape", [in0(node, ctx), s], [out0(node, ctx)]);
  },
  vjp(node, grads) {
    return [reshape(grads[0]!, node.inputs[0]!.shape, node.inputs[0]!), null];
  },
  checks: [{ name: "like", inputs: [{ shape: [2, 6] }, { shape: [3, 4], grad: false }] }],
  /** Same row-major data in `like`'s shape. */
  reference: ([x, like]) => [{ data: x!.data.slice(), shape: [...like!.shape] }],
};

/**
 * Reshape `x` to `shape` (numbers, symbolic names, or one -1). When the target cannot be lowered
 * statically and `like` (a value of the target shape) is given, its runtime shape is used.
 */
export function reshape(x: Value, shape: readonly Dim[], like?: Value): Value {
  const target = resolveReshape(x.shape, shape);
  if (target.length === x.rank && target.every((d, i) => d === x.shape[i])) return x;
  if (onnxReshapeSpec(x.shape, target) === null) {
    check(like !== undefined, `reshape ${formatShape(x.shape)} -> ${formatShape(target)} needs a 'like' value`);
    return x.graph.apply(reshapeAsOp, [x, like])[0]!;
  }
  return x.graph.apply(reshapeOp, [x], { shape: target })[0]!;
}

/** Reshape to `like`'s runtime shape. */
export const reshapeAs = (x: Value, like: Value): Value => x.graph.apply(reshapeAsOp, [x, like])[0]!;

// ---------------------------------------------------------------- Transpose

export const transposeOp: OpDef = {
  name: "Transpose",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const perm = attrs.perm as number[];
    const x = inputs[0]!;
    check(Array.isArray(perm) && perm.length === x.rank && [...perm].sort().every((p, i) => p === i), `bad perm ${JSON.stringify(perm)} for rank ${x.rank}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },
  lower(node, ctx) {
    ctx.emit("Transpose", [in0(node, ctx)], [out0(node, ctx)], { perm: node.attrs.perm as number[] });
  },
  vjp(node, grads) {
    const perm = node.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [transpose(grads[0]!, inv)];
  },
  checks: [{ name: "3d", inputs: [{ shape: [2, 3, 4] }], attrs: { perm: [2, 0, 1] } }],
  /** out[i_0, ..., i_{r-1}] = x[j] with j[perm[k]] = i_k. */
  reference: ([x], attrs) => {
    const perm = attrs.perm as number[];
    return [build(perm.map((p) => x!.shape[p]!), (idx) => at(x!, perm.map((_, k) => idx[perm.indexOf(k)]!)))];
  },
  forwardChecks: [{ name: "4d", inputs: [{ shape: [2, 3, 4, 5] }], attrs: { perm: [1, 3, 0, 2] } }],
};

/** Permutes axes: output dim i = input dim perm[i]. */
export const transpose = (x: Value, perm: number[]): Value => x.graph.apply(transposeOp, [x], { perm })[0]!;
/** Swaps the last two axes. */
export function transposeLast2(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  check(r >= 2, `transposeLast2 needs rank >= 2, got ${formatShape(x.shape)}`);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return transpose(x, perm);
}

// ---------------------------------------------------------------- Expand

function expandSpec(x: readonly Dim[], target: readonly Dim[]): number[] | null {
  const off = target.length - x.length;
  const spec: number[] = [];
  for (let i = 0; i < target.length; i++) {
    const d = target[i]!;
    if (typeof d === "number") spec.push(d);
    else if (i >= off && x[i - off] === d) spec.push(1);
    else return null;
  }
  return spec;
}

export const expandOp: OpDef = {
  name: "Expand",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const target = attrs.shape as Dim[];
    const shape = broadcastOrThrow(inputs[0]!.shape, target);
    check(shape.length === target.length && shape.every((d, i) => d === target[i]), `cannot expand ${formatShape(inputs[0]!.shape)} to ${formatShape(target)}`);
    check(expandSpec(inputs[0]!.shape, target) !== null, `target ${formatShape(target)} needs expandAs`);
    return [{ dtype: inputs[0]!.dtype, shape }];
  },
  lower(node, ctx) {
    const spec = expandSpec(node.inputs[0]!.shape, node.outputs[0]!.shape)!;
    ctx.emit("Expand", [in0(node, ctx), ctx.int64s(spec)], [out0(node, ctx)]);
  },
  vjp: (_node, grads) => [grads[0]!],
  checks: [{ name: "bcast", inputs: [{ shape: [3, 1] }], attrs: { shape: [2, 3, 4] } }],
  /** numpy.broadcast_to(x, shape). */
  reference: ([x], attrs) => [build(broadcastShape(x!.shape, attrs.shape as number[]), (idx) => atBroadcast(x!, idx))],
  forwardChecks: [{ name: "bool", inputs: [{ shape: [1, 3], dtype: "bool", gen: { values: [1, 0, 1] } }], attrs: { shape: [2, 2, 3] } }],
};

/** Broadcasts `x` to the runtime shape of `like`. */
export const expandAsOp: OpDef = {
  name: "ExpandAs",
  infer(inputs) {
    expectArity(inputs, 2);
    const shape = broadcastOrThrow(inputs[0]!.shape, inputs[1]!.shape);
    check(shape.length === inputs[1]!.rank && shape.every((d, i) => d === inputs[1]!.shape[i]), `cannot expand ${formatShape(inputs[0]!.shape)} to ${formatShape(inputs[1]!.shape)}`);
    return [{ dtype: inputs[0]!.dtype, shape }];
  },
  lower(node, ctx) {
    const s = ctx.fresh("shape");
    ctx.emit("Shape", [ctx.name(node.inputs[1]!)], [s]);
    ctx.emit("Expand", [in0(node, ctx), s], [out0(node, ctx)]);
  },
  vjp: (_node, grads) => [grads[0]!, null],
  checks: [{ name: "like", inputs: [{ shape: [1, 3] }, { shape: [2, 3], grad: false }] }],
  /** numpy.broadcast_to(x, like.shape). */
  reference: ([x, like]) => [build(like!.shape, (idx) => atBroadcast(x!, idx))],
};

/** Broadcasts `x` to `shape`; symbolic target dims not present in `x` need `like`. */
export function expand(x: Value, shape: readonly Dim[], like?: Value): Value {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  if (expandSpec(x.shape, shape) === null) {
    check(like !== undefined, `expand ${formatShape(x.shape)} -> ${formatShape(shape)} needs a 'like' value`);
    return x.graph.apply(expandAsOp, [x, like])[0]!;
  }
  return x.graph.apply(expandOp, [x], { shape: [...shape] })[0]!;
}
/** Broadcasts `x` to `like`'s shape. */
export const expandAs = (x: Value, like: Value): Value => expand(x, like.shape, like);

// ---------------------------------------------------------------- Squeeze / Unsqueeze

export const squeezeOp: OpDef = {
  name: "Squeeze",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const x = inputs[0]!;
    const axes = axesAttr(attrs.axes, x.rank);
    for (const a of axes) check(x.shape[a] === 1, `axis ${a} has size ${x.shape[a]}, not 1`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  lower(node, ctx) {
    const axes = axesAttr(node.attrs.axes, node.inputs[0]!.rank);
    ctx.emit("Squeeze", [in0(node, ctx), ctx.int64s(axes)], [out0(node, ctx)]);
  },
  vjp(node, grads) {
    return [unsqueeze(grads[0]!, axesAttr(node.attrs.axes, node.inputs[0]!.rank))];
  },
  checks: [{ name: "mid", inputs: [{ shape: [2, 1, 3] }], attrs: { axes: [1] } }],
  /** Same data; the size-1 `axes` removed. */
  reference: ([x], attrs) => {
    const axes = (attrs.axes as number[]).map((a) => axisOf(a, x!.shape.length));
    return [{ data: x!.data.slice(), shape: x!.shape.filter((_, i) => !axes.includes(i)) }];
  },
  forwardChecks: [{ name: "two-neg", inputs: [{ shape: [1, 3, 2, 1] }], attrs: { axes: [-1, 0] } }],
};

export const unsqueezeOp: OpDef = {
  name: "Unsqueeze",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const x = inputs[0]!;
    const axes = axesAttr(attrs.axes, x.rank + (attrs.axes as number[]).length);
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < x.rank + axes.length; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]!);
    return [{ dtype: x.dtype, shape }];
  },
  lower(node, ctx) {
    const axes = axesAttr(node.attrs.axes, node.outputs[0]!.rank);
    ctx.emit("Unsqueeze", [in0(node, ctx), ctx.int64s(axes)], [out0(node, ctx)]);
  },
  vjp(node, grads) {
    return [squeeze(grads[0]!, axesAttr(node.attrs.axes, node.outputs[0]!.rank))];
  },
  checks: [{ name: "two", inputs: [{ shape: [2, 3] }], attrs: { axes: [0, -1] } }],
  /** Same data; size-1 dims at `axes`, positions in the output (negative counts from its back). */
  reference: ([x], attrs) => {
    const rank = x!.shape.length + (attrs.axes as number[]).length;
    const axes = (attrs.axes as number[]).map((a) => axisOf(a, rank));
    const dims = [...x!.shape];
    return [{ data: x!.data.slice(), shape: Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : dims.shift()!)) }];
  },
  forwardChecks: [{ name: "mid", inputs: [{ shape: [2, 3] }], attrs: { axes: [1, 3] } }],
};

/** Removes size-1 axes. */
export const squeeze = (x: Value, axes: number[]): Value => x.graph.apply(squeezeOp, [x], { axes })[0]!;
/** Inserts size-1 axes at `axes` (positions in the output). */
export const unsqueeze = (x: Value, axes: number[]): Value => x.graph.apply(unsqueezeOp, [x], { axes })[0]!;

// ---------------------------------------------------------------- Concat / Split / Slice / Pad

export const concatOp: OpDef = {
  name: "Concat",
  infer(inputs, attrs) {
    check(inputs.length >= 1, "needs at least one input");
    const x = inputs[0]!;
    const axis = normAxis(attrs.axis as number, x.rank, "Concat");
    let along: Dim[] = [];
    for (const v of inputs) {
      check(v.dtype === x.dtype, `dtype mismatch ${v.dtype} vs ${x.dtype}`);
      check(v.rank === x.rank && v.shape.every((d, i) => i === axis || d === x.shape[i]), `shapes ${inputs.map((u) => formatShape(u.shape)).join(", ")} differ off axis ${axis}`);
      along.push(v.shape[axis]!);
    }
    const shape = [...x.shape];
    shape[axis] = dimFromFactors(sumDims(along));
    return [{ dtype: x.dtype, shape }];
  },
  lower(node, ctx) {
    ctx.emit("Concat", node.inputs.map((v) => ctx.name(v)), [out0(node, ctx)], { axis: normAxis(node.attrs.axis as number, node.inputs[0]!.rank, "Concat") });
  },
  vjp(node, grads) {
    const axis = normAxis(node.attrs.axis as number, node.inputs[0]!.rank, "Concat");
    const sizes = node.inputs.map((v) => v.shape[axis]!);
    check(sizes.every((s) => typeof s === "number"), `Concat gradient needs static sizes along axis ${axis}`);
    return split(grads[0]!, axis, sizes as number[]);
  },
  checks: [{ name: "axis1", inputs: [{ shape: [2, 1] }, { shape: [2, 3] }], attrs: { axis: 1 } }],
  /** The inputs one after another along `axis`. */
  reference: (inputs, attrs) => {
    const axis = axisOf(attrs.axis as number, inputs[0]!.shape.length);
    const shape = [...inputs[0]!.shape];
    shape[axis] = inputs.reduce((n, t) => n + t.shape[axis]!, 0);
    return [build(shape, (idx) => {
      for (const t of inputs) {
        if (idx[axis]! < t.shape[axis]!) return at(t, idx);
        idx[axis] -= t.shape[axis]!;
      }
      throw new Error("Concat reference: index past the end");
    })];
  },
  forwardChecks: [
    { name: "three-neg-axis", inputs: [{ shape: [2, 2, 1] }, { shape: [2, 2, 3] }, { shape: [2, 2, 2] }], attrs: { axis: -1 } },
    { name: "axis0-int64", inputs: [{ shape: [1, 3], dtype: "int64", gen: { int: [0, 9] } }, { shape: [2, 3], dtype: "int64", gen: { int: [-9, 0] } }], attrs: { axis: 0 } },
  ],
};

function sumDims(dims: Dim[]): { n: number; syms: string[] } {
  if (dims.every((d) => typeof d === "number")) return { n: (dims as number[]).reduce((a, b) => a + b, 0), syms: [] };
  return { n: 1, syms: [dims.map(String).join("+")] };
}

/** Concatenates along `axis`. */
export const concat = (xs: Value[], axis: number): Value => xs[0]!.graph.apply(concatOp, xs, { axis })[0]!;

export const splitOp: OpDef = {
  name: "Split",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const x = inputs[0]!;
    const axis = normAxis(attrs.axis as number, x.rank, "Split");
    const sizes = attrs.sizes as number[];
    const d = x.shape[axis]!;
    check(typeof d === "number" && sizes.reduce((a, b) => a + b, 0) === d, `sizes ${JSON.stringify(sizes)} do not sum to dim ${d}`);
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((v, i) => (i === axis ? s : v)) }));
  },
  lower(node, ctx) {
    ctx.emit("Split", [in0(node, ctx), ctx.int64s(node.attrs.sizes as number[])], node.outputs.map((v) => ctx.name(v)), {
      axis: normAxis(node.attrs.axis as number, node.inputs[0]!.rank, "Split"),
    });
  },
  vjp(node, grads) {
    const parts = node.outputs.map((o, i) => grads[i] ?? zerosLike(o));
    return [concat(parts, node.attrs.axis as number)];
  },
  checks: [{ name: "3way", inputs: [{ shape: [2, 6] }], attrs: { axis: 1, sizes: [1, 2, 3] } }],
  /** Consecutive pieces of `sizes` along `axis`. */
  reference: ([x], attrs) => {
    const axis = axisOf(attrs.axis as number, x!.shape.length);
    let offset = 0;
    return (attrs.sizes as number[]).map((n) => {
      const from = offset;
      offset += n;
      return build(x!.shape.map((d, k) => (k === axis ? n : d)), (idx) => at(x!, idx.map((v, k) => (k === axis ? v + from : v))));
    });
  },
  forwardChecks: [
    { name: "axis0", inputs: [{ shape: [4, 3] }], attrs: { axis: 0, sizes: [3, 1] } },
    { name: "neg-axis", inputs: [{ shape: [2, 3, 5] }], attrs: { axis: -1, sizes: [2, 3] } },
  ],
};

/** Splits along `axis` into pieces of `sizes` (static). */
export const split = (x: Value, axis: number, sizes: number[]): Value[] => x.graph.apply(splitOp, [x], { axis, sizes });

interface SliceAttrs {
  axes: number[];
  starts: number[];
  ends: number[];
  steps?: number[];
}

function sliceDim(d: Dim, start: number, end: number, step: number): Dim {
  check(step !== 0, "Slice step must not be 0");
  if (typeof d === "number") {
    // ONNX: negatives count from the back, then clamp to [0, d] (step > 0) or [0, d-1] / [-1, d-1] (step < 0).
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const s = step > 0 ? clamp(start, 0, d) : clamp(start, 0, d - 1);
    const e = step > 0 ? clamp(end, 0, d) : clamp(end, -1, d - 1);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  check(step === 1, `symbolic dim '${d}' sliced with step ${step}`);
  if (start < 0) {
    const open = end >= 2 ** 31;
    check(open || end < 0, `symbolic dim '${d}' sliced from negative start ${start} to non-negative end ${end}`);
    return open ? -start : Math.max(0, end - start);
  }
  if (end >= 0 && end < 2 ** 31) return end - start;
  const cut = start + (end < 0 ? -end : 0);
  return cut === 0 ? d : `${d}-${cut}`;
}

export const sliceOp: OpDef = {
  name: "Slice",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const x = inputs[0]!;
    const a = attrs as unknown as SliceAttrs;
    check(a.axes.length === a.starts.length && a.axes.length === a.ends.length, "axes/starts/ends lengths differ");
    const shape = [...x.shape];
    a.axes.forEach((ax, i) => {
      const n = normAxis(ax, x.rank, "Slice");
      shape[n] = sliceDim(x.shape[n]!, a.starts[i]!, a.ends[i]!, a.steps?.[i] ?? 1);
    });
    return [{ dtype: x.dtype, shape }];
  },
  lower(node, ctx) {
    const a = node.attrs as unknown as SliceAttrs;
    const ins = [in0(node, ctx), ctx.int64s(a.starts), ctx.int64s(a.ends), ctx.int64s(a.axes)];
    if (a.steps) ins.push(ctx.int64s(a.steps));
    ctx.emit("Slice", ins, [out0(node, ctx)]);
  },
  vjp(node, grads) {
    const x = node.inputs[0]!;
    const a = node.attrs as unknown as SliceAttrs;
    const pads = new Array<number>(2 * x.rank).fill(0);
    a.axes.forEach((ax, i) => {
      const n = normAxis(ax, x.rank, "Slice");
      check((a.steps?.[i] ?? 1) === 1, "Slice gradient needs step 1");
      const d = x.shape[n]!;
      const start = a.starts[i]!;
      const end = a.ends[i]!;
      if (typeof d === "number") {
        const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
        const e = Math.min(Math.max(end < 0 ? end + d : end, 0), d);
        pads[n] = s;
        pads[n + x.rank] = d - Math.max(e, s);
      } else {
        check(start >= 0 && (end < 0 || end >= 2 ** 31), `Slice gradient on symbolic dim '${d}' needs start >= 0 and a negative or open end`);
        pads[n] = start;
        pads[n + x.rank] = end < 0 ? -end : 0;
      }
    });
    return [pad(grads[0]!, pads)];
  },
  checks: [
    { name: "shift", inputs: [{ shape: [2, 5, 3] }], attrs: { axes: [1], starts: [0], ends: [-1] } },
    { name: "middle", inputs: [{ shape: [4, 6] }], attrs: { axes: [0, 1], starts: [1, 2], ends: [3, 5] } },
  ],
  /** out[j] = x[first + j * step] per axis (see {@link sliceRange}); unsliced axes keep first 0, step 1. */
  reference: ([x], attrs) => {
    const a = attrs as unknown as SliceAttrs;
    const rank = x!.shape.length;
    const first = new Array<number>(rank).fill(0);
    const step = new Array<number>(rank).fill(1);
    const shape = [...x!.shape];
    a.axes.forEach((ax, i) => {
      const k = axisOf(ax, rank);
      step[k] = a.steps?.[i] ?? 1;
      const r = sliceRange(x!.shape[k]!, a.starts[i]!, a.ends[i]!, step[k]!);
      first[k] = r.first;
      shape[k] = r.count;
    });
    return [build(shape, (idx) => at(x!, idx.map((j, k) => first[k]! + j * step[k]!)))];
  },
  forwardChecks: [
    { name: "steps-clamped", inputs: [{ shape: [3, 7] }], attrs: { axes: [1, 0], starts: [1, -2], ends: [2 ** 62, 100], steps: [2, 1] } },
    { name: "reverse", inputs: [{ shape: [2, 5] }], attrs: { axes: [1], starts: [-1], ends: [-(2 ** 62)], steps: [-1] } },
    { name: "neg-step-2", inputs: [{ shape: [7, 2] }], attrs: { axes: [0], starts: [5], ends: [0], steps: [-2] } },
    { name: "neg-axis-int64", inputs: [{ shape: [2, 5], dtype: "int64", gen: { int: [-9, 10] } }], attrs: { axes: [-1], starts: [-4], ends: [-1] } },
  ],
};

/**
 * ONNX Slice on one axis of size `d`: negative start/end count from the back, then clamp to [0, d]
 * (step > 0) or [0, d-1] / [-1, d-1] (step < 0); the elements are first, first + step, ... before end.
 */
function sliceRange(d: number, start: number, end: number, step: number): { first: number; count: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
  const first = step > 0 ? clamp(start, 0, d) : clamp(start, 0, d - 1);
  const stop = step > 0 ? clamp(end, 0, d) : clamp(end, -1, d - 1);
  return { first, count: Math.max(0, Math.ceil((stop - first) / step)) };
}

/** Slices `x[start:end]` along each axis (python semantics, negative indices count from the end). */
export function slice(x: Value, axes: number[], starts: number[], ends: number[]): Value {
  return x.graph.apply(sliceOp, [x], { axes, starts, ends })[0]!;
}

export const padOp: OpDef = {
  name: "Pad",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    const x = inputs[0]!;
    const pads = attrs.pads as number[];
    check(pads.length === 2 * x.rank && pads.every((p) => Number.isInteger(p) && p >= 0), `pads ${JSON.stringify(pads)} invalid for rank ${x.rank}`);
    const shape = x.shape.map((d, i) => {
      const extra = pads[i]! + pads[i + x.rank]!;
      if (extra === 0) return d;
      if (typeof d === "number") return d + extra;
      const m = /^(.*)-(\d+)$/.exec(d);
      if (m && Number(m[2]) === extra) return m[1]!;
      return `${d}+${extra}`;
    });
    return [{ dtype: x.dtype, shape }];
  },
  lower(node, ctx) {
    ctx.emit("Pad", [in0(node, ctx), ctx.int64s(node.attrs.pads as number[])], [out0(node, ctx)], { mode: "constant" });
  },
  vjp(node, grads) {
    const x = node.inputs[0]!;
    const pads = node.attrs.pads as number[];
    const axes: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < x.rank; i++) {
      if (pads[i] === 0 && pads[i + x.rank] === 0) continue;
      axes.push(i);
      starts.push(pads[i]!);
      ends.push(pads[i + x.rank]! > 0 ? -pads[i + x.rank]! : 2 ** 62);
    }
    const g = slice(grads[0]!, axes, starts, ends);
    return [isStatic(x.shape) ? g : reshapeAs(g, x)];
  },
  checks: [{ name: "both", inputs: [{ shape: [2, 3] }], attrs: { pads: [1, 0, 0, 2] } }],
  /** Constant-mode pad with 0: out[i] = x[i - begin] inside the input's box, 0 outside. */
  reference: ([x], attrs) => {
    const pads = attrs.pads as number[];
    const r = x!.shape.length;
    const shape = x!.shape.map((d, k) => pads[k]! + d + pads[k + r]!);
    return [build(shape, (idx) => {
      const src = idx.map((j, k) => j - pads[k]!);
      return src.every((j, k) => j >= 0 && j < x!.shape[k]!) ? at(x!, src) : 0;
    })];
  },
  forwardChecks: [{ name: "3d-int64", inputs: [{ shape: [2, 1, 3], dtype: "int64", gen: { int: [1, 9] } }], attrs: { pads: [0, 2, 1, 1, 0, 2] } }],
};

/** Zero-pads: `pads` = [begin_0..begin_{r-1}, end_0..end_{r-1}] (ONNX order). */
export const pad = (x: Value, pads: number[]): Value => x.graph.apply(padOp, [x], { pads })[0]!;

// ---------------------------------------------------------------- ZerosLike / FullLike

export const fullLikeOp: OpDef = {
  name: "FullLike",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    check(typeof attrs.value === "number", "value must be a number");
    return [{ dtype: (attrs.dtype as Value["dtype"]) ?? inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
  },
  lower(node, ctx) {
    const out = node.outputs[0]!;
    const v = node.attrs.value as number;
    if (isStatic(out.shape)) {
      ctx.emit("ConstantOfShape", [ctx.int64s(out.shape)], [ctx.name(out)], { value: { tensor: { dtype: out.dtype, dims: [1], data: [v] } } });
    } else {
      const s = ctx.fresh("shape");
      ctx.emit("Shape", [in0(node, ctx)], [s]);
      ctx.emit("ConstantOfShape", [s], [ctx.name(out)], { value: { tensor: { dtype: out.dtype, dims: [1], data: [v] } } });
    }
  },
  /** `value` (converted to the output dtype) at every position of the input's shape. */
  reference: ([x], attrs) => {
    const value = toDtype(attrs.value as number, (attrs.dtype as DType | undefined) ?? x!.dtype);
    return [{ data: new Float64Array(numel(x!.shape)).fill(value), shape: [...x!.shape] }];
  },
  forwardChecks: [
    { name: "float", inputs: [{ shape: [2, 3] }], attrs: { value: -2.5 } },
    { name: "int64-from-float", inputs: [{ shape: [3, 1] }], attrs: { value: 7, dtype: "int64" } },
    { name: "bool", inputs: [{ shape: [2] }], attrs: { value: 1, dtype: "bool" } },
  ],
};

/** A tensor of `value` with `like`'s shape (and its dtype unless given); carries no gradient. */
export const fullLike = (like: Value, value: number, dtype?: Value["dtype"]): Value =>
  like.graph.apply(fullLikeOp, [like], { value, dtype: dtype ?? like.dtype })[0]!;
/** Zeros with `like`'s shape and dtype. */
export const zerosLike = (like: Value): Value => fullLike(like, 0);

// ---------------------------------------------------------------- SizeOf

/** Product of `x`'s dims over `axes` (all when empty) as a rank-0 tensor of `dtype`; computed at run time. */
export const sizeOfOp: OpDef = {
  name: "SizeOf",
  infer(inputs, attrs) {
    expectArity(inputs, 1);
    axesAttr(attrs.axes ?? [], inputs[0]!.rank);
    return [{ dtype: (attrs.dtype as Value["dtype"]) ?? "float32", shape: [] }];
  },
  lower(node, ctx) {
    const x = node.inputs[0]!;
    const out = node.outputs[0]!;
    const axes = axesAttr(node.attrs.axes ?? [], x.rank);
    const s = ctx.fresh("shape");
    ctx.emit("Shape", [ctx.name(x)], [s]);
    let dims = s;
    if (axes.length) {
      dims = ctx.fresh("dims");
      ctx.emit("Gather", [s, ctx.int64s(axes)], [dims], { axis: 0 });
    }
    const p = ctx.fresh("prod");
    ctx.emit("ReduceProd", [dims], [p], { keepdims: 0 });
    ctx.emit("Cast", [p], [ctx.name(out)], { to: ONNX_DTYPE[out.dtype] });
  },
  /** Product of the input's dims over `axes` (all when empty), as a rank-0 tensor. */
  reference: ([x], attrs) => {
    const axes = ((attrs.axes as number[] | undefined) ?? []).map((a) => axisOf(a, x!.shape.length));
    const dims = axes.length ? axes.map((a) => x!.shape[a]!) : x!.shape;
    return [{ data: Float64Array.of(numel(dims)), shape: [] }];
  },
  forwardChecks: [
    { name: "all", inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [], dtype: "float32" } },
    { name: "axes-int64", inputs: [{ shape: [2, 3, 5] }], attrs: { axes: [0, -1], dtype: "int64" } },
  ],
};

/** Number of elements of `x` over `axes` (all axes when empty), as a scalar of `dtype` (no gradient). */
export function sizeOf(x: Value, axes: number[] = [], dtype: Value["dtype"] = "float32"): Value {
  const sel = axes.length ? axesAttr(axes, x.rank).map((a) => x.shape[a]!) : x.shape;
  if (isStatic(sel)) return x.graph.scalar(sel.reduce((a, b) => a * b, 1), dtype);
  return x.graph.apply(sizeOfOp, [x], { axes, dtype })[0]!;
}
