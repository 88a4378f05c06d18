/** Autodiff driver behaviour: fan-out, detach, integer paths, unbroadcasting, unrelated inputs. */
import { describe, expect, it } from "vitest";
import { Graph } from "../ir/graph.js";
import { Runtime } from "../runtime/runtime.js";
import { add, mul } from "../ops/binary.js";
import { cast } from "../ops/compare.js";
import { reduceMean, reduceSum } from "../ops/reduce.js";
import { detach, exp } from "../ops/unary.js";
import { grad } from "./grad.js";

const rt = new Runtime({ intraOpNumThreads: 1 });
const f64 = (xs: number[]) => Float64Array.from(xs);

describe("grad", () => {
  it("accumulates fan-out: d/dx sum(x*x + x) = 2x + 1", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [3]);
    const [dx] = grad(reduceSum(add(mul(x, x), x)), [x]);
    const out = await (await rt.compile(g, { dx: dx! })).run({ x: { data: f64([1, -2, 0.5]), dims: [3] } });
    expect([...(out.dx!.data as Float64Array)]).toEqual([3, -3, 2]);
  });

  it("stops at detach: d/dx sum(x * detach(x)) = x", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [2]);
    const [dx] = grad(reduceSum(mul(x, detach(x))), [x]);
    const out = await (await rt.compile(g, { dx: dx! })).run({ x: { data: f64([4, 5]), dims: [2] } });
    expect([...(out.dx!.data as Float64Array)]).toEqual([4, 5]);
  });

  it("passes no gradient through integer values", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [2]);
    const viaInt = cast(cast(x, "int64"), "float64");
    const [dx] = grad(reduceSum(add(mul(viaInt, 3), x)), [x]);
    const out = await (await rt.compile(g, { dx: dx! })).run({ x: { data: f64([1.5, 2.5]), dims: [2] } });
    expect([...(out.dx!.data as Float64Array)]).toEqual([1, 1]);
  });

  it("unbroadcasts over symbolic batch dims", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", ["batch", "seq", 2]);
    const b = g.input("b", "float64", [2]);
    const [db] = grad(reduceMean(exp(add(x, b))), [b]);
    const xs = f64([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const out = await (await rt.compile(g, { db: db! })).run({ x: { data: xs, dims: [2, 3, 2] }, b: { data: f64([0.1, -0.1]), dims: [2] } });
    const want = [0, 1].map((j) => [0, 1, 2, 3, 4, 5].reduce((s, r) => s + Math.exp(xs[r * 2 + j]! + (j ? -0.1 : 0.1)), 0) / 12);
    const got = out.db!.data as Float64Array;
    want.forEach((w, j) => expect(got[j]).toBeCloseTo(w, 10));
  });

  it("returns zeros for inputs the output does not depend on", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [2]);
    const y = g.input("y", "float64", [2]);
    const [dy] = grad(reduceSum(mul(x, 2)), [y]);
    const out = await (await rt.compile(g, { dy: dy! })).run({ x: { data: f64([1, 2]), dims: [2] }, y: { data: f64([3, 4]), dims: [2] } });
    expect([...(out.dy!.data as Float64Array)]).toEqual([0, 0]);
  });

  it("rejects non-scalar outputs without a seed and integer targets", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2]);
    const i = g.input("i", "int64", [2]);
    expect(() => grad(mul(x, 2), [x])).toThrow(/pass a seed/);
    expect(() => grad(reduceSum(x), [i])).toThrow(/int64/);
  });
});
