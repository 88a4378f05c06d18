import type { DType } from "../ir/dtype.js";
import { isFloat } from "../ir/dtype.js";
import type { Value } from "../ir/graph.js";
import { type Dim, broadcastShapes, formatShape } from "../ir/shape.js";

/** A value, or a JS number to be embedded as a scalar constant of the partner's dtype. */
export type Operand = Value | number;

/** Turns numbers into scalar constants of `like`'s dtype. */
export function lift(x: Operand, like: Value): Value {
  return typeof x === "number" ? like.graph.scalar(x, like.dtype) : x;
}

/** Resolves a pair of operands where at least one is a Value. */
export function liftPair(a: Operand, b: Operand): [Value, Value] {
  if (typeof a === "number" && typeof b === "number") throw new TypeError("binary op: at least one operand must be a Value");
  const av = typeof a === "number" ? lift(a, b as Value) : a;
  const bv = typeof b === "number" ? lift(b, av) : b;
  return [av, bv];
}

export function check(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

export function expectArity(inputs: readonly Value[], n: number): void {
  check(inputs.length === n, `expected ${n} inputs, got ${inputs.length}`);
}

export function expectFloat(x: Value, what = "input"): void {
  check(isFloat(x.dtype), `${what} must be a float tensor, got ${x.dtype}`);
}

export function expectSameDtype(inputs: readonly Value[]): DType {
  const d = inputs[0]!.dtype;
  for (const x of inputs) check(x.dtype === d, `dtype mismatch: ${inputs.map((v) => v.dtype).join(" vs ")}`);
  return d;
}

export function broadcastOrThrow(...shapes: (readonly Dim[])[]): Dim[] {
  const out = broadcastShapes(...shapes);
  if (!out) throw new Error(`shapes ${shapes.map(formatShape).join(" and ")} do not broadcast`);
  return out;
}

/** Reads a list of integer axes from attrs, normalised and sorted. */
export function axesAttr(axes: unknown, rank: number): number[] {
  check(Array.isArray(axes) && axes.every((a) => Number.isInteger(a)), `axes must be an integer array`);
  const out = (axes as number[]).map((a) => {
    const n = a < 0 ? a + rank : a;
    check(n >= 0 && n < rank, `axis ${a} out of range for rank ${rank}`);
    return n;
  });
  check(new Set(out).size === out.length, `duplicate axes ${JSON.stringify(axes)}`);
  return out.sort((x, y) => x - y);
}
