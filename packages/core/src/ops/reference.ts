/**
 * Building blocks of forward oracles (OpDef.reference): plain row-major evaluation on concrete tensors,
 * written from the ONNX/NumPy semantics and independent of onnxruntime. Clarity over speed: the
 * oracles run on test-sized tensors only.
 */
import type { DType } from "../ir/dtype.js";
import type { RefResult, RefTensor } from "../ir/graph.js";

/** Data and shape of an oracle's input or output. */
type Values = Pick<RefTensor, "data" | "shape">;

/** Number of elements of a concrete shape. */
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Normalises a possibly negative axis (ONNX: axis < 0 counts from the back). */
export const axisOf = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Row-major multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return idx;
}

/** Flat row-major position of multi-index `idx` in `shape`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let k = 0; k < shape.length; k++) off = off * shape[k]! + idx[k]!;
  return off;
}

/** Element of `x` at multi-index `idx`. */
export function at(x: Values, idx: readonly number[]): number {
  return x.data[ravel(idx, x.shape)]!;
}

/** Element of `x` seen through a numpy broadcast to an output index (right-aligned; size-1 dims repeat). */
export function atBroadcast(x: Values, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  return at(x, x.shape.map((d, k) => (d === 1 ? 0 : idx[lead + k]!)));
}

/** A tensor of `shape` whose element at each multi-index `idx` is `f(idx)`. */
export function build(shape: readonly number[], f: (idx: number[]) => number): RefResult {
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = f(unravel(i, shape));
  return { data, shape: [...shape] };
}

/** Numpy broadcast of concrete shapes. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    const dims = shapes.map((s) => s[s.length - rank + i] ?? 1).filter((d) => d !== 1);
    if (dims.some((d) => d !== dims[0])) throw new Error(`reference: shapes ${JSON.stringify(shapes)} do not broadcast`);
    return dims[0] ?? 1;
  });
}

/** N-ary elementwise `f` with numpy broadcasting (ONNX multidirectional broadcasting). */
export function elementwise(inputs: readonly Values[], f: (...xs: number[]) => number): RefResult {
  const shape = broadcastShape(...inputs.map((t) => t.shape));
  return build(shape, (idx) => f(...inputs.map((t) => atBroadcast(t, idx))));
}

/** The values of `x` along `axis` through multi-index `idx` (idx[axis] is ignored). */
export function lane(x: Values, idx: readonly number[], axis: number): number[] {
  return Array.from({ length: x.shape[axis]! }, (_, j) => at(x, idx.map((v, k) => (k === axis ? j : v))));
}

/**
 * Reduces `x` over `axes` (normalised): `f` maps the values of each reduced group to one number. The
 * reduced axes are kept as size 1 when `keepdims`, dropped otherwise (ONNX Reduce* semantics).
 */
export function reduceAxes(x: Values, axes: readonly number[], keepdims: boolean, f: (vals: number[]) => number): RefResult {
  const kept = x.shape.map((d, k) => (axes.includes(k) ? 1 : d));
  const groups: number[][] = Array.from({ length: numel(kept) }, () => []);
  x.data.forEach((v, i) => groups[ravel(unravel(i, x.shape).map((j, k) => (axes.includes(k) ? 0 : j)), kept)]!.push(v));
  return { data: Float64Array.from(groups, f), shape: keepdims ? kept : x.shape.filter((_, k) => !axes.includes(k)) };
}

/** log(sum(exp(v))), computed stably. */
export function logSumExp(v: readonly number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
}

/**
 * Converts a number to `dtype` as ONNX Cast does: float32 rounds to nearest, integers truncate toward
 * zero, bool is `v != 0` (as 0/1).
 */
export function toDtype(v: number, dtype: DType): number {
  switch (dtype) {
    case "float32":
      return Math.fround(v);
    case "int64":
    case "int32":
      return Math.trunc(v);
    case "bool":
      return v !== 0 ? 1 : 0;
    default:
      return v;
  }
}
