/**
 * Where a training step's time goes (issue 14's profile-driven pass), from onnxruntime's own profiler:
 *   tsx bench/profile.ts train|lora|forward [--seq 512] [--threads 2]     (SmolLM2-135M shape, batch 1)
 * Runs one warm-up step and one profiled step, then prints one JSON line:
 * - `step_seconds` (wall of the session run), `kernel_seconds` (sum of node kernel times of the profiled run) and
 *   `outside_kernels_seconds` (the difference: output copies into fresh buffers, their page faults, scheduling);
 * - `optimizer_seconds` (AdamW in WebAssembly SIMD, outside the graph) for train/lora;
 * - `by_op`: kernel seconds and share per ONNX op type;
 * - `matmuls`: per matmul class (op, M x K x N from the profiled input shapes) calls, seconds and GFLOP/s.
 */
import { readFileSync, rmSync } from "node:fs";
import * as F from "@ortrl/core";
import { BENCH_CONFIGS } from "./llama-configs.js";

const mode = process.argv[2] ?? "train";
const flag = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const seq = flag("seq", 512);
const threads = flag("threads", 2);
const arch = BENCH_CONFIGS["smollm2-135m"]!;
const rng = new F.Rng(1);
const params = new F.ParamStore(F.llamaParamSpecs(arch));
for (const n of params.names) {
  const v = params.get(n);
  if (n.endsWith("norm.weight")) v.fill(1);
  else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.02;
}
const prefix = `/tmp/ortrl-profile-${process.pid}`;
const runtime = new F.Runtime({ intraOpNumThreads: threads, profileFilePrefix: prefix });
const rows = [Array.from({ length: seq }, () => rng.int(3, arch.vocabSize))];
const batch = F.padBatch(rows, { labels: rows });

let trainable: F.ParamStore = params;
let adapter: F.LoraAdapter | undefined;
if (mode === "lora") {
  adapter = F.createLoraAdapter(arch, F.resolveLoraConfig({ r: 16, loraAlpha: 32, targetModules: "all-linear" }), params, 1);
  trainable = adapter.params;
}
let exe: F.Executable;
if (mode === "forward") {
  const fg = new F.CausalLM(arch, params, runtime).forwardGraph();
  exe = await runtime.compile(fg.lg.graph, { loss_sum: fg.lossSum, count: fg.count });
} else {
  const tg = F.buildCausalLmTrainGraph(arch, trainable.names, adapter?.placement);
  exe = await runtime.compile(tg.lg.graph, tg.outputs);
}
const feeds = { ...params.feeds(), ...(adapter ? adapter.params.feeds() : {}), ...F.batchFeeds(batch), num_items_in_batch: { data: Float32Array.of(seq - 1), dims: [] } };
const opt = new F.AdamW([{ params: trainable.names, lr: 1e-5, weightDecay: 0 }]);
const wall: number[] = [];
let optimizerSeconds = 0;
for (let s = 0; s < 2; s++) {
  const t0 = performance.now();
  const out = await exe.run(feeds);
  wall.push((performance.now() - t0) / 1000);
  if (mode !== "forward") {
    const t1 = performance.now();
    opt.step(trainable, new Map(trainable.names.map((n) => [n, out[`grad.${n}`]!.data as Float32Array])));
    optimizerSeconds = (performance.now() - t1) / 1000;
  }
}
exe.endProfiling();

interface Ev { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] } }
const file = (await import("node:fs")).readdirSync("/tmp").filter((f) => f.startsWith(`ortrl-profile-${process.pid}`)).map((f) => `/tmp/${f}`)[0]!;
const events = JSON.parse(readFileSync(file, "utf8")) as Ev[];
rmSync(file);
const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
const last = runs.at(-1)!;
const nodes = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.ts >= last.ts && e.ts <= last.ts + last.dur);
const byOp = new Map<string, number>();
const mm = new Map<string, { calls: number; seconds: number; flops: number }>();
let kernel = 0;
for (const e of nodes) {
  const op = e.args?.op_name ?? "?";
  const sec = e.dur / 1e6;
  kernel += sec;
  byOp.set(op, (byOp.get(op) ?? 0) + sec);
  if (op === "MatMul" || op === "FusedMatMul" || op === "Gemm") {
    const shapes = (e.args?.input_type_shape ?? []).map((o) => Object.values(o)[0]!);
    const [a, b] = shapes as [number[], number[]];
    if (!a || !b) continue;
    // a [..., M, K]; b [..., K, N], or [..., N, K] in the transB forms (FusedMatMul/Gemm on HF-layout weights).
    const K = a.at(-1)!;
    const M = a.length >= 2 ? a.at(-2)! : 1;
    const transB = b.at(-2) !== K && b.at(-1) === K;
    const N = transB ? b.at(-2)! : b.at(-1)!;
    const prod = (x: number[]) => x.reduce((p, q) => p * q, 1);
    const batchDims = Math.max(prod(a.slice(0, -2)), prod(b.slice(0, -2)));
    const key = `${op} ${a.join("x")} @ ${b.join("x")}`;
    const cur = mm.get(key) ?? { calls: 0, seconds: 0, flops: 0 };
    cur.calls++;
    cur.seconds += sec;
    cur.flops += 2 * batchDims * M * K * N;
    mm.set(key, cur);
  }
}
const stepSeconds = wall.at(-1)!;
const sorted = [...byOp.entries()].sort((x, y) => y[1] - x[1]);
console.log(
  JSON.stringify({
    bench: `profile.${mode}`,
    seq,
    threads,
    step_seconds: stepSeconds,
    profiled_run_seconds: last.dur / 1e6,
    kernel_seconds: kernel,
    outside_kernels_seconds: stepSeconds - kernel,
    optimizer_seconds: optimizerSeconds,
    by_op: Object.fromEntries(sorted.map(([k, v]) => [k, { seconds: +v.toFixed(4), share: +(v / kernel).toFixed(4) }])),
    matmuls: Object.fromEntries(
      [...mm.entries()].sort((x, y) => y[1].seconds - x[1].seconds).map(([k, v]) => [k, { calls: v.calls, seconds: +v.seconds.toFixed(4), gflops_per_second: +(v.flops / v.seconds / 1e9).toFixed(1) }]),
    ),
  }),
);
