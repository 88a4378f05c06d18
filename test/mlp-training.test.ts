/**
 * End-to-end: a small MLP built with the IR trains through onnxruntime-node with AdamW on a synthetic
 * regression, and its measured loss falls at least 100x.
 */
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";

function buildMlp(widths: number[]) {
  const g = new F.Graph();
  const x = g.input("x", "float32", ["batch", widths[0]!]);
  const y = g.input("y", "float32", ["batch", 1]);
  const specs: F.ParamSpec[] = [];
  let h = x;
  for (let i = 0; i + 1 < widths.length; i++) {
    const w = g.input(`w${i}`, "float32", [widths[i]!, widths[i + 1]!]);
    const b = g.input(`b${i}`, "float32", [widths[i + 1]!]);
    specs.push({ name: `w${i}`, shape: [widths[i]!, widths[i + 1]!] }, { name: `b${i}`, shape: [widths[i + 1]!] });
    h = F.add(F.matmul(h, w), b);
    if (i + 2 < widths.length) h = F.tanh(h);
  }
  const diff = F.sub(h, y);
  const loss = F.reduceMean(F.mul(diff, diff));
  const paramValues = g.inputs.filter((v) => specs.some((s) => s.name === v.name));
  const grads = F.grad(loss, paramValues);
  const outputs: Record<string, F.Value> = { loss };
  paramValues.forEach((p, i) => (outputs[`grad.${p.name}`] = grads[i]!));
  return { g, outputs, specs };
}

describe("MLP on a synthetic regression", () => {
  it("AdamW lowers the training loss at least 100x", async () => {
    const rng = new F.Rng(7);
    const widths = [4, 32, 32, 1];
    const { g, outputs, specs } = buildMlp(widths);
    const params = new F.ParamStore(specs);
    for (const s of specs) {
      const v = params.get(s.name);
      const fanIn = s.shape.length === 2 ? s.shape[0]! : 1;
      if (s.shape.length === 2) for (let i = 0; i < v.length; i++) v[i] = rng.normal() / Math.sqrt(fanIn);
    }
    const N = 256;
    const xs = new Float32Array(N * 4);
    const ys = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      let t = 0;
      for (let j = 0; j < 4; j++) {
        const v = rng.uniform(-1, 1);
        xs[i * 4 + j] = v;
        t += (j + 1) * v;
      }
      ys[i] = Math.sin(t) + 0.5 * xs[i * 4]! * xs[i * 4 + 1]!;
    }
    const exe = await new F.Runtime({ intraOpNumThreads: 1 }).compile(g, outputs);
    const opt = new F.AdamW([{ params: specs.map((s) => s.name), lr: 1e-2 }]);
    const losses: number[] = [];
    for (let step = 0; step < 600; step++) {
      const out = await exe.run({ x: { data: xs, dims: [N, 4] }, y: { data: ys, dims: [N, 1] }, ...params.feeds() });
      losses.push((out.loss!.data as Float32Array)[0]!);
      const grads = new Map(specs.map((s) => [s.name, out[`grad.${s.name}`]!.data as Float32Array]));
      opt.step(params, grads);
    }
    const first = losses[0]!;
    const last = Math.min(...losses.slice(-10));
    expect(first).toBeGreaterThan(0.1);
    expect(first / last).toBeGreaterThan(100);
  });
});

describe("build-time shape and dtype errors", () => {
  it("names the op and the shapes on a matmul mismatch", () => {
    const g = new F.Graph();
    const a = g.input("a", "float32", [2, 3]);
    const b = g.input("b", "float32", [4, 5]);
    expect(() => F.matmul(a, b)).toThrow(/MatMul\(float32\[2, 3\], float32\[4, 5\]\).*inner dims differ/);
  });
  it("names the op and the shapes on a broadcast mismatch", () => {
    const g = new F.Graph();
    const a = g.input("a", "float32", ["batch", 3]);
    const b = g.input("b", "float32", [4]);
    expect(() => F.add(a, b)).toThrow(/Add\(float32\[batch, 3\], float32\[4\]\).*do not broadcast/);
  });
  it("names the op and the dtypes on a dtype mismatch", () => {
    const g = new F.Graph();
    const a = g.input("a", "float32", [3]);
    const b = g.input("b", "int64", [3]);
    expect(() => F.mul(a, b)).toThrow(/Mul\(float32\[3\], int64\[3\]\).*dtype mismatch/);
  });
  it("rejects gathering with float indices", () => {
    const g = new F.Graph();
    const e = g.input("e", "float32", [10, 4]);
    const i = g.input("i", "float32", [2]);
    expect(() => F.gather(e, i)).toThrow(/Gather\(float32\[10, 4\], float32\[2\]\).*indices must be int64/);
  });
  it("rejects a reshape with the wrong element count", () => {
    const g = new F.Graph();
    const a = g.input("a", "float32", [2, 3]);
    expect(() => F.reshape(a, [4, 2])).toThrow(/element count/);
  });
});
