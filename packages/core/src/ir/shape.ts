/**
 * Shapes: a dimension is a concrete size (number) or a symbolic name (string), e.g. `"batch"` or `"seq"`.
 * Symbolic dimensions are exported as ONNX `dim_param`s, so one session serves every value of them.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Number of elements; throws if any dimension is symbolic. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number") throw new Error(`numel: shape ${formatShape(shape)} has symbolic dimension '${d}'`);
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

/**
 * Numpy-style broadcast of several shapes (right-aligned; a dimension of 1 stretches).
 * Returns null when the shapes do not broadcast; callers turn that into an error naming the op.
 */
export function broadcastShapes(...shapes: Shape[]): Dim[] | null {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (dim !== d) return null;
    }
    out.push(dim);
  }
  return out;
}

/** Normalises a possibly negative axis against `rank`; throws a RangeError naming `op`. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** A dimension product as (numeric factor, sorted symbol atoms); `"batch*seq*4"` -> {n: 4, syms: ["batch","seq"]}. */
export interface DimFactors {
  n: number;
  syms: string[];
}

export function factorize(dims: Shape): DimFactors {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === "number") n *= d;
    else
      for (const part of d.split("*")) {
        if (/^\d+$/.test(part)) n *= Number(part);
        else syms.push(part);
      }
  }
  return { n, syms: syms.sort() };
}

/** Canonical dimension for a factor set: a number when static, else `"a*b*N"`. */
export function dimFromFactors(f: DimFactors): Dim {
  if (f.syms.length === 0 || f.n === 0) return f.n;
  return f.n === 1 ? f.syms.join("*") : [...f.syms, String(f.n)].join("*");
}

/** Quotient of two factor sets, or null when `den` does not divide `num`. */
export function divideFactors(num: DimFactors, den: DimFactors): DimFactors | null {
  if (den.n === 0 || num.n % den.n !== 0) return null;
  const rest = [...num.syms];
  for (const s of den.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return { n: num.n / den.n, syms: rest };
}

export function factorsEqual(a: DimFactors, b: DimFactors): boolean {
  return a.n === b.n && a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
}
