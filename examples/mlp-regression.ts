/**
 * Builds a 2-layer MLP with ortrl's graph IR, differentiates it, and trains it with AdamW through
 * onnxruntime-node on y = sin(x0 + 2 x1). Run: `npx tsx examples/mlp-regression.ts`.
 */
import * as F from "@ortrl/core";

const g = new F.Graph();
const x = g.input("x", "float32", ["batch", 2]);
const y = g.input("y", "float32", ["batch", 1]);
const w0 = g.input("w0", "float32", [2, 64]);
const b0 = g.input("b0", "float32", [64]);
const w1 = g.input("w1", "float32", [64, 1]);
const pred = F.matmul(F.tanh(F.add(F.matmul(x, w0), b0)), w1);
const loss = F.reduceMean(F.square(F.sub(pred, y)));
const [gw0, gb0, gw1] = F.grad(loss, [w0, b0, w1]);

const params = new F.ParamStore([
  { name: "w0", shape: [2, 64] },
  { name: "b0", shape: [64] },
  { name: "w1", shape: [64, 1] },
]);
const rng = new F.Rng(0);
for (const n of ["w0", "w1"]) params.get(n).forEach((_, i, a) => (a[i] = rng.normal() * 0.5));

const N = 512;
const xs = Float32Array.from({ length: N * 2 }, () => rng.uniform(-1, 1));
const ys = Float32Array.from({ length: N }, (_, i) => Math.sin(xs[2 * i]! + 2 * xs[2 * i + 1]!));
const exe = await new F.Runtime().compile(g, { loss, gw0: gw0!, gb0: gb0!, gw1: gw1! });
const opt = new F.AdamW([{ params: params.names, lr: 1e-2 }]);
for (let step = 0; step <= 500; step++) {
  const out = await exe.run({ x: { data: xs, dims: [N, 2] }, y: { data: ys, dims: [N, 1] }, ...params.feeds() });
  if (step % 100 === 0) console.log(`step ${step}: loss ${(out.loss!.data as Float32Array)[0]!.toExponential(3)}`);
  opt.step(params, new Map([["w0", out.gw0!.data], ["b0", out.gb0!.data], ["w1", out.gw1!.data]]) as F.GradMap);
}
