/**
 * Engine benchmark: forward+backward of a 4-layer MLP (width 1024, batch 512) built with the IR,
 * in GFLOP/s, and the fixed cost of one run() call (a tiny graph).
 */
import * as F from "@ortrl/core";
import { median, record } from "./report.js";

export async function benchEngine(threads: number): Promise<void> {
  const W = 1024;
  const B = 512;
  const L = 4;
  const g = new F.Graph();
  const x = g.input("x", "float32", [B, W]);
  let h = x;
  const ws: F.Value[] = [];
  for (let i = 0; i < L; i++) {
    const w = g.input(`w${i}`, "float32", [W, W]);
    ws.push(w);
    h = F.matmul(h, w);
    if (i + 1 < L) h = F.tanh(h);
  }
  const loss = F.reduceMean(F.mul(h, h));
  const grads = F.grad(loss, ws);
  const outputs: Record<string, F.Value> = { loss };
  grads.forEach((gv, i) => (outputs[`g${i}`] = gv));
  const rt = new F.Runtime({ intraOpNumThreads: threads });
  const exe = await rt.compile(g, outputs);
  const rng = new F.Rng(1);
  const feeds: Record<string, F.TensorData> = { x: { data: Float32Array.from({ length: B * W }, () => rng.normal()), dims: [B, W] } };
  for (let i = 0; i < L; i++) feeds[`w${i}`] = { data: Float32Array.from({ length: W * W }, () => rng.normal() / 32), dims: [W, W] };
  for (let i = 0; i < 2; i++) await exe.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await exe.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  // forward: L GEMMs; backward: dW for every layer, dX for all but the first.
  const flops = 2 * B * W * W * (L + L + (L - 1));
  const t = median(times);
  record({ bench: "engine.mlp_fwd_bwd", threads, width: W, batch: B, layers: L, seconds: t, gflops: flops / t / 1e9 });

  const tg = new F.Graph();
  const a = tg.input("a", "float32", [1]);
  const tiny = await rt.compile(tg, { b: F.add(a, 1) });
  const tf = { a: { data: new Float32Array(1), dims: [1] } };
  for (let i = 0; i < 200; i++) await tiny.run(tf);
  const n = 2000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await tiny.run(tf);
  record({ bench: "engine.run_overhead", threads, microseconds_per_run: ((performance.now() - t0) * 1000) / n });
}
