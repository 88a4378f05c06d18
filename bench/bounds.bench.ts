/**
 * The machine's bounds for the Llama benchmarks (BENCHMARKS.md, "Bounds"): fp32 matmul throughput of
 * onnxruntime (MLAS) and of PyTorch (OpenBLAS) at the SmolLM2-135M training shapes and at 2048^3, the memory read
 * bandwidth seen by onnxruntime (ReduceSum over 512 MiB, 2 threads), and the single-token decode matmul of the LM
 * head (4 x 576 x 49152) with the weight fed per run (packed on every call) or embedded as an initializer
 * (pre-packed once). Each figure is the median of 15 runs after 3 warm-ups, one op per session.
 * Derived: the tokens/s each mode could reach at the measured peak (FLOPs per token below), recorded with them.
 */
import { spawnSync } from "node:child_process";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { median, record } from "./report.js";

const { onnx } = onnxProto;
type Attr = Record<string, number | number[]>;
const vi = (name: string, shape: number[]) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
const node = (op: string, i: string[], o: string[], attrs: Attr = {}, domain = "") =>
  onnx.NodeProto.create({ opType: op, domain, input: i, output: o, attribute: Object.entries(attrs).map(([name, v]) => (Array.isArray(v) ? { name, type: 7, ints: v } : { name, type: 2, i: v })) });
function model(nodes: ReturnType<typeof node>[], inputs: ReturnType<typeof vi>[], outputs: ReturnType<typeof vi>[], inits: InstanceType<typeof onnx.TensorProto>[] = []): Uint8Array {
  const graph = onnx.GraphProto.create({ name: "g", node: nodes, input: inputs, output: outputs, initializer: inits });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 18 }, { domain: "com.microsoft", version: 1 }], graph })).finish();
}
const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);

async function timeMs(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, threads: number, reps = 15): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, graphOptimizationLevel: "all", enableMemPattern: false });
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await s.run(feeds);
    ts.push(performance.now() - t);
  }
  await s.release();
  return median(ts);
}

/** y = x W^T with W [N, K] fed per run (FusedMatMul transB, as ortrl's training graphs) or embedded. */
async function matmulMs(M: number, K: number, N: number, threads: number, embedded = false): Promise<number> {
  const x = new ort.Tensor("float32", rnd(M * K), [M, K]);
  const w = rnd(N * K);
  const nodes = [node("FusedMatMul", ["x", "W"], ["y"], { transB: 1 }, "com.microsoft")];
  if (embedded) {
    const init = onnx.TensorProto.create({ name: "W", dims: [N, K], dataType: 1, rawData: new Uint8Array(w.buffer) });
    return timeMs(model(nodes, [vi("x", [M, K])], [vi("y", [M, N])], [init]), { x }, threads);
  }
  return timeMs(model(nodes, [vi("x", [M, K]), vi("W", [N, K])], [vi("y", [M, N])]), { x, W: new ort.Tensor("float32", w, [N, K]) }, threads);
}

function torchMatmulGflops(threads: number): Record<string, number> | null {
  const py = `
import torch, time, json, torch.nn.functional as F
torch.set_num_threads(${threads})
out = {}
for M, K, N in [(512, 576, 1536), (2048, 2048, 2048)]:
    x, w = torch.randn(M, K), torch.randn(N, K)
    ts = []
    with torch.inference_mode():
        for i in range(18):
            t = time.perf_counter(); F.linear(x, w); ts.append(time.perf_counter() - t)
    ts = sorted(ts[3:])
    out[f"{M}x{K}x{N}"] = 2 * M * K * N / ts[len(ts) // 2] / 1e9
print(json.dumps(out))`;
  const r = spawnSync("/usr/bin/python3", ["-c", py], { encoding: "utf8" });
  return r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").at(-1)!) : null;
}

/** SmolLM2-135M: linear weights (incl. the tied LM head) and attention FLOPs per token at seq 512. */
const LINEAR_PARAMS = 30 * (576 * (576 + 192 + 192 + 576) + 3 * 576 * 1536) + 49152 * 576;
const ATTN_FLOPS_PER_TOKEN = 30 * 2 * 2 * 9 * 64 * 512; // QK^T and PV over all 512 keys (both sides compute the full square)

export async function benchBounds(threads: number): Promise<void> {
  const gflops = (M: number, K: number, N: number, ms: number) => (2 * M * K * N) / ms / 1e6;
  const ortTrain = gflops(512, 576, 1536, await matmulMs(512, 576, 1536, threads));
  const ortBig = gflops(2048, 2048, 2048, await matmulMs(2048, 2048, 2048, threads));
  const n = 128 * 2 ** 20; // 512 MiB of float32
  const big = new ort.Tensor("float32", new Float32Array(n).fill(1), [n]);
  const reduceMs = await timeMs(model([node("ReduceSum", ["x"], ["y"], { keepdims: 0 })], [vi("x", [n])], [vi("y", [])]), { x: big }, threads, 7);
  const bandwidth = (n * 4) / reduceMs / 1e6;
  const headFed = await matmulMs(4, 576, 49152, threads);
  const headEmbedded = await matmulMs(4, 576, 49152, threads, true);
  const torch = torchMatmulGflops(threads);
  const peak = Math.max(ortTrain, torch?.["512x576x1536"] ?? 0);
  const fwd = 2 * LINEAR_PARAMS + ATTN_FLOPS_PER_TOKEN;
  const perToken = { forward: fwd, train: 3 * fwd, lora: 2 * 2 * LINEAR_PARAMS + 3 * ATTN_FLOPS_PER_TOKEN };
  const decodeBytesPerStep = LINEAR_PARAMS * 4;
  record({
    bench: "bounds",
    threads,
    ort_matmul_gflops_512x576x1536: ortTrain,
    ort_matmul_gflops_2048cubed: ortBig,
    torch_matmul_gflops: torch,
    ort_read_bandwidth_gb_per_s: bandwidth,
    lm_head_decode_ms_weight_fed: headFed,
    lm_head_decode_ms_weight_embedded: headEmbedded,
    lm_head_decode_gb_per_s_weight_embedded: (49152 * 576 * 4) / headEmbedded / 1e6,
    flops_per_token: perToken,
    bound_tokens_per_second_at_peak: Object.fromEntries(Object.entries(perToken).map(([k, f]) => [k, (peak * 1e9) / f])),
    decode_bytes_per_step: decodeBytesPerStep,
    bound_generation_tokens_per_second_batch4: (4 * bandwidth * 1e9) / decodeBytesPerStep,
  });
}
