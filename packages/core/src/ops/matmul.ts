/**
 * Batched matrix product (numpy matmul semantics for rank >= 2): a [..., M, K] x b [..., K, N] -> [..., M, N],
 * batch dims broadcast.
 * VJP: da = g b^T, db = a^T g. When b is a rank-2 weight and a carries batch dims, db is computed as
 * reshape(a, [-1, K])^T reshape(g, [-1, N]), one GEMM instead of a batched product and a reduction.
 */
import { MS_DOMAIN } from "../onnx/export.js";
import type { OpDef, Value } from "../ir/graph.js";
import { type Dim, formatShape } from "../ir/shape.js";
import { broadcastOrThrow, check, expectArity, expectFloat, expectSameDtype } from "./util.js";
import { reshape, transpose, transposeLast2 } from "./shape-ops.js";
import { at, atBroadcast, broadcastShape, build } from "./reference.js";

/** Sum over k < K of term(k). */
const dot = (K: number, term: (k: number) => number): number => {
  let s = 0;
  for (let k = 0; k < K; k++) s += term(k);
  return s;
};

export const matmulOp: OpDef = {
  name: "MatMul",
  infer(inputs) {
    expectArity(inputs, 2);
    const [a, b] = inputs as [Value, Value];
    expectFloat(a);
    const dtype = expectSameDtype(inputs);
    check(a.rank >= 2 && b.rank >= 2, `needs rank >= 2 operands, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    const K = a.shape[a.rank - 1]!;
    check(K === b.shape[b.rank - 2], `inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
    const batch = broadcastOrThrow(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const shape: Dim[] = [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!];
    return [{ dtype, shape }];
  },
  lower(node, ctx) {
    ctx.emit("MatMul", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)]);
  },
  vjp(node, grads, needs) {
    const [a, b] = node.inputs as [Value, Value];
    const g = grads[0]!;
    const da = needs[0] ? matmul(g, transposeLast2(b)) : null;
    let db: Value | null = null;
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        const K = a.shape[a.rank - 1]!;
        const N = b.shape[1]!;
        db = matmul(transpose(reshape(a, [-1, K]), [1, 0]), reshape(g, [-1, N]));
      } else {
        db = matmul(transposeLast2(a), g);
      }
    }
    return [da, db];
  },
  checks: [
    { name: "2d", inputs: [{ shape: [3, 4] }, { shape: [4, 2] }] },
    { name: "batched", inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }] },
    { name: "weight", inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }] },
    { name: "broadcast", inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }] },
  ],
  /** numpy.matmul: out[..., m, n] = sum_k a[..., m, k] b[..., k, n], batch dims broadcast. */
  reference: ([a, b]) => {
    const [M, K] = a!.shape.slice(-2) as [number, number];
    const N = b!.shape.at(-1)!;
    const batch = broadcastShape(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return [build([...batch, M, N], (idx) => {
      const [m, n] = idx.splice(-2) as [number, number];
      return dot(K, (k) => atBroadcast(a!, [...idx, m, k]) * atBroadcast(b!, [...idx, k, n]));
    })];
  },
};

/** a @ b with broadcasting batch dims (see {@link matmulOp}). */
export const matmul = (a: Value, b: Value): Value => a.graph.apply(matmulOp, [a, b])[0]!;

/**
 * Linear-layer product y = a b^T with a weight in [out, in] layout: a [..., K] x b [N, K] -> [..., N].
 * VJP: da = g b; db = reshape(g, [-1, N])^T reshape(a, [-1, K]), computed directly in b's [N, K]
 * layout (no transpose of a weight-sized gradient).
 * Lowering: MatMul(a, Transpose(b)), which onnxruntime fuses into one GEMM with transB; for a constant b
 * (a frozen weight embedded in the graph) onnxruntime's FusedMatMul(transB=1) (com.microsoft), which
 * pre-packs b once without first materialising a transposed copy of it.
 */
export const matmulTOp: OpDef = {
  name: "MatMulT",
  infer(inputs) {
    expectArity(inputs, 2);
    const [a, b] = inputs as [Value, Value];
    expectFloat(a);
    const dtype = expectSameDtype(inputs);
    check(a.rank >= 1 && b.rank === 2, `needs a rank >= 1 input and a rank-2 weight, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    check(a.shape[a.rank - 1] === b.shape[1], `inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}^T`);
    return [{ dtype, shape: [...a.shape.slice(0, -1), b.shape[0]!] }];
  },
  lower(node, ctx) {
    const [a, b] = node.inputs as [Value, Value];
    if (b.node === null && b.graph.constants.has(b.id)) {
      ctx.emit("FusedMatMul", [ctx.name(a), ctx.name(b)], [ctx.name(node.outputs[0]!)], { transB: 1 }, MS_DOMAIN);
      return;
    }
    const t = ctx.fresh("wT");
    ctx.emit("Transpose", [ctx.name(b)], [t], { perm: [1, 0] });
    ctx.emit("MatMul", [ctx.name(a), t], [ctx.name(node.outputs[0]!)]);
  },
  vjp(node, grads, needs) {
    const [a, b] = node.inputs as [Value, Value];
    const g = grads[0]!;
    const K = a.shape[a.rank - 1]!;
    const N = b.shape[0]!;
    const da = needs[0] ? matmul(g, b) : null;
    const db = needs[1] ? matmul(transpose(a.rank === 2 ? g : reshape(g, [-1, N]), [1, 0]), a.rank === 2 ? a : reshape(a, [-1, K])) : null;
    return [da, db];
  },
  checks: [
    { name: "2d", inputs: [{ shape: [3, 4] }, { shape: [5, 4] }] },
    { name: "batched", inputs: [{ shape: [2, 3, 4] }, { shape: [5, 4] }] },
  ],
  /** out[..., n] = sum_k a[..., k] b[n, k]. */
  reference: ([a, b]) => {
    const K = a!.shape.at(-1)!;
    return [build([...a!.shape.slice(0, -1), b!.shape[0]!], (idx) => {
      const n = idx.pop()!;
      return dot(K, (k) => at(a!, [...idx, k]) * at(b!, [n, k]));
    })];
  },
};

/** a @ b^T for a weight b in [out, in] layout (see {@link matmulTOp}). */
export const matmulT = (a: Value, b: Value): Value => a.graph.apply(matmulTOp, [a, b])[0]!;
