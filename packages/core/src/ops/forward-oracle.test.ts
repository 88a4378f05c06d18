/**
 * Forward oracles: every op in the registry, applied alone in a graph, exported to ONNX and run by
 * onnxruntime on each of its cases (`checks` and `forwardChecks`), must agree with its `reference` (the
 * op's ONNX/NumPy meaning in plain TypeScript): same output shapes (as run and as the op's `infer`
 * states them), integer and bool outputs exactly,
 * float outputs within 1e-12 + 1e-9|ref| (float64) or 1e-6 + 1e-5|ref| (float32).
 */
import { describe, expect, it } from "vitest";
import { isFloat, type AnyTypedArray, type DType } from "../ir/dtype.js";
import { Graph, type GradCheckCase, type OpDef, type RefTensor } from "../ir/graph.js";
import { Runtime, type TensorData } from "../runtime/runtime.js";
import { OPS } from "./registry.js";
import { genInput } from "./case-inputs.js";
import { unravel } from "./reference.js";
import { Rng } from "../util/rng.js";

const runtime = new Runtime({ intraOpNumThreads: 1 });

const casesOf = (op: OpDef): GradCheckCase[] => [...(op.checks ?? []), ...(op.forwardChecks ?? [])];

const toNumbers = (data: AnyTypedArray): Float64Array => Float64Array.from(data as ArrayLike<number | bigint>, Number);

/** Tolerance for an output of `dtype` (0: exact). */
function tolerance(dtype: DType, ref: number): number {
  if (!isFloat(dtype)) return 0;
  return dtype === "float64" ? 1e-12 + 1e-9 * Math.abs(ref) : 1e-6 + 1e-5 * Math.abs(ref);
}

async function checkForward(op: OpDef, c: GradCheckCase) {
  const rng = new Rng(4321);
  const g = new Graph();
  const feeds: Record<string, TensorData> = {};
  const refs: RefTensor[] = [];
  const inputs = c.inputs.map((s, k) => {
    const dtype = s.dtype ?? c.dtype ?? "float64";
    const data = genInput(s, dtype, k, rng);
    feeds[`x${k}`] = { data, dims: s.shape };
    refs.push({ data: toNumbers(data), shape: s.shape, dtype });
    return g.input(`x${k}`, dtype, s.shape);
  });
  const attrs = c.attrs ?? {};
  const outs = g.apply(op, inputs, attrs);
  const exe = await runtime.compile(g, Object.fromEntries(outs.map((o, i) => [`y${i}`, o])));
  const got = await exe.run(feeds);
  const want = op.reference!(refs, attrs);
  expect(want.length, `${op.name}/${c.name}: reference output count`).toBe(outs.length);
  outs.forEach((o, i) => {
    const where = `${op.name}/${c.name} output ${i}`;
    const y = got[`y${i}`]!;
    const w = want[i]!;
    expect([...y.dims], `${where}: lowered shape vs reference shape`).toEqual(w.shape);
    expect(o.shape, `${where}: inferred shape vs reference shape`).toEqual(w.shape);
    const values = toNumbers(y.data);
    const bad: string[] = [];
    w.data.forEach((ref, j) => {
      const v = values[j]!;
      const same = Number.isNaN(ref) ? Number.isNaN(v) : Math.abs(v - ref) <= tolerance(o.dtype, ref);
      if (!same) bad.push(`[${unravel(j, w.shape).join(",")}] lowered ${v} vs reference ${ref}`);
    });
    if (bad.length) throw new Error(`${where} (${o.dtype}): ${bad.length} of ${w.data.length} elements differ: ${bad.slice(0, 3).join("; ")}`);
  });
}

describe("forward oracles", () => {
  it("every op has a reference and at least one case", () => {
    const missing = OPS.filter((op) => !op.reference || casesOf(op).length === 0).map((op) => op.name);
    expect(missing).toEqual([]);
  });
  for (const op of OPS) {
    if (!op.reference) continue;
    for (const c of casesOf(op)) it(`${op.name}/${c.name}`, () => checkForward(op, c));
  }
});
