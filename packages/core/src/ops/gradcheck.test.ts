/**
 * Finite-difference gradient checks for every op in the registry.
 * Reference forward: onnxruntime itself, in float64 (central differences, eps 1e-6, tolerance
 * 1e-6 + 1e-5*|g|) or, for cases marked float32, eps 1e-2 and tolerance 1e-2 + 1e-2*|g|.
 */
import { describe, expect, it } from "vitest";
import { isFloat, type DType } from "../ir/dtype.js";
import { Graph, type GradCheckCase, type Value } from "../ir/graph.js";
import { Runtime, type TensorData } from "../runtime/runtime.js";
import { grad } from "../autodiff/grad.js";
import { add, mul } from "./arith.js";
import { cast } from "./compare.js";
import { reduceSum } from "./reduce.js";
import { OPS } from "./registry.js";
import { genInput } from "./case-inputs.js";
import { Rng } from "../util/rng.js";

const runtime = new Runtime({ intraOpNumThreads: 1 });

async function checkCase(opName: string, c: GradCheckCase) {
  const op = OPS.find((o) => o.name === opName)!;
  const dtype: DType = c.dtype ?? "float64";
  const rng = new Rng(1234);
  const g = new Graph();
  const feeds: Record<string, TensorData> = {};
  const inputs: Value[] = c.inputs.map((s, k) => {
    const dt = s.dtype ?? dtype;
    const v = g.input(`x${k}`, dt, s.shape);
    feeds[`x${k}`] = { data: genInput(s, dt, k, rng), dims: s.shape };
    return v;
  });
  const outs = g.apply(op, inputs, c.attrs ?? {});
  let loss: Value | null = null;
  for (const o of outs) {
    if (!isFloat(o.dtype)) continue;
    const w = g.constant(genInput({ shape: o.shape as number[] }, o.dtype, 9, rng), o.dtype, o.shape as number[]);
    const term = cast(reduceSum(mul(o, w)), "float64");
    loss = loss ? add(loss, term) : term;
  }
  expect(loss, `${opName} has no float output`).not.toBeNull();
  const wrt = inputs.filter((v, k) => isFloat(v.dtype) && c.inputs[k]!.grad !== false);
  const grads = grad(loss!, wrt);
  const outputs: Record<string, Value> = { loss: loss! };
  grads.forEach((gv, i) => (outputs[`g${i}`] = gv));
  const full = await runtime.compile(g, outputs);
  const fwd = await runtime.compile(g, { loss: loss! });
  const res = await full.run(feeds);

  const f32 = dtype === "float32";
  const eps = f32 ? 1e-2 : 1e-6;
  const [atol, rtol] = f32 ? [1e-2, 1e-2] : [1e-6, 1e-5];
  for (let i = 0; i < wrt.length; i++) {
    const name = wrt[i]!.name!;
    const x = feeds[name]!.data as Float64Array | Float32Array;
    const analytic = res[`g${i}`]!.data as Float64Array | Float32Array;
    expect(analytic.length).toBe(x.length);
    for (let j = 0; j < x.length; j++) {
      const orig = x[j]!;
      x[j] = orig + eps;
      const lp = ((await fwd.run(feeds)).loss!.data as Float64Array)[0]!;
      x[j] = orig - eps;
      const lm = ((await fwd.run(feeds)).loss!.data as Float64Array)[0]!;
      x[j] = orig;
      const fd = (lp - lm) / (2 * eps);
      const an = analytic[j]!;
      if (Math.abs(fd - an) > atol + rtol * Math.abs(an)) {
        throw new Error(`${opName}/${c.name}: d/d${name}[${j}] analytic ${an} vs finite-difference ${fd}`);
      }
    }
  }
}

describe("op registry", () => {
  it("every differentiable op has at least one gradient check", () => {
    const missing = OPS.filter((op) => op.vjp && !(op.checks && op.checks.length > 0)).map((op) => op.name);
    expect(missing).toEqual([]);
  });
  it("op names are unique", () => {
    expect(new Set(OPS.map((o) => o.name)).size).toBe(OPS.length);
  });
});

describe("finite-difference gradient checks", () => {
  for (const op of OPS) {
    for (const c of op.checks ?? []) {
      it(`${op.name}/${c.name}`, () => checkCase(op.name, c));
    }
  }
});
