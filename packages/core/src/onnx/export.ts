/**
 * Export of a graph (the part needed for the requested outputs) to an ONNX ModelProto.
 *
 * The opset is pinned in {@link OPSET}. Graph inputs keep their names; unused inputs are pruned
 * (see {@link ExportedModel.inputNames}); constants become initializers; symbolic dims become dim_params.
 */
import onnxProto from "onnx-proto";
import { ONNX_DTYPE, type AnyTypedArray, type DType } from "../ir/dtype.js";
import type { Graph, LowerContext, Node, OnnxAttr, Value } from "../ir/graph.js";
import type { Dim } from "../ir/shape.js";

const { onnx } = onnxProto;

/** The single ONNX opset ortrl emits (default domain). */
export const OPSET = 18;
/** onnxruntime's contrib-op domain (opset 1), imported only by graphs that use one of its ops. */
export const MS_DOMAIN = "com.microsoft";
/** ONNX IR version matching {@link OPSET}. */
export const IR_VERSION = 8;

export interface ExportedModel {
  bytes: Uint8Array;
  /** Inputs the model actually reads, in declaration order. */
  inputNames: string[];
  inputs: Value[];
  outputNames: string[];
  nodeCount: number;
}

function bytesOf(data: AnyTypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(name: string, dtype: DType, dims: readonly number[], data: AnyTypedArray) {
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: ONNX_DTYPE[dtype], rawData: bytesOf(data) });
}

function typedFromNumbers(dtype: DType, values: number[]): AnyTypedArray {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case "int32":
      return Int32Array.from(values);
    case "bool":
      return Uint8Array.from(values);
    case "float16":
      throw new Error("float16 attribute tensors are not supported");
  }
}

function attrProto(name: string, v: OnnxAttr) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return onnx.AttributeProto.create({ name, type: A.INT, i: v });
  if (typeof v === "string") return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: A.INTS, ints: v });
  if ("float" in v) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: v.float });
  if ("floats" in v) return onnx.AttributeProto.create({ name, type: A.FLOATS, floats: v.floats });
  const t = v.tensor;
  return onnx.AttributeProto.create({ name, type: A.TENSOR, t: tensorProto("", t.dtype, t.dims, typedFromNumbers(t.dtype, t.data)) });
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[], symbolicNames: boolean) {
  const dim = shape.map((d) => {
    if (typeof d === "number") return { dimValue: d };
    return symbolicNames && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d) ? { dimParam: d } : {};
  });
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ONNX_DTYPE[dtype], shape: { dim } } } });
}

/** The nodes needed for `outputs`, in graph order. */
function liveNodes(graph: Graph, outputs: Value[]): Node[] {
  const live = new Set<Node>();
  const stack = outputs.map((v) => v.node).filter((n): n is Node => n !== null);
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const x of n.inputs) if (x.node && !live.has(x.node)) stack.push(x.node);
  }
  return graph.nodes.filter((n) => live.has(n));
}

/**
 * Serialises the subgraph computing `outputs` (name -> value).
 * @throws Error when an output name collides with an input name, or a lowering fails (message names the op).
 */
export function exportOnnx(graph: Graph, outputs: Record<string, Value>, graphName = "ortrl"): ExportedModel {
  const outEntries = Object.entries(outputs);
  const nodes = liveNodes(graph, outEntries.map(([, v]) => v));
  const names = new Map<number, string>();
  for (const v of graph.inputs) names.set(v.id, v.name!);
  for (const [name, v] of outEntries) {
    if (graph.inputs.some((i) => i.name === name)) throw new Error(`exportOnnx: output name '${name}' collides with an input`);
    if (!names.has(v.id) && !graph.constants.has(v.id)) names.set(v.id, name);
  }

  const onnxNodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  const usedConstants = new Set<number>();
  const memo = new Map<string, string>();
  let fresh = 0;
  const ctx: LowerContext = {
    name(v) {
      let n = names.get(v.id);
      if (!n) {
        n = `v${v.id}`;
        names.set(v.id, n);
      }
      if (graph.constants.has(v.id)) usedConstants.add(v.id);
      return n;
    },
    fresh: (hint) => `_${hint}_${fresh++}`,
    emit(opType, inputs, outs, attrs = {}, domain = "") {
      onnxNodes.push(
        onnx.NodeProto.create({
          opType,
          domain,
          input: inputs,
          output: outs,
          name: `n${onnxNodes.length}_${opType}`,
          attribute: Object.entries(attrs).map(([k, a]) => attrProto(k, a)),
        }),
      );
    },
    int64s(values) {
      const key = `i64:${values.join(",")}`;
      let n = memo.get(key);
      if (!n) {
        n = `_c${memo.size}`;
        memo.set(key, n);
        initializers.push(tensorProto(n, "int64", [values.length], BigInt64Array.from(values.map((x) => BigInt(x)))));
      }
      return n;
    },
    scalar(value, dtype) {
      const key = `${dtype}:${value}`;
      let n = memo.get(key);
      if (!n) {
        n = `_c${memo.size}`;
        memo.set(key, n);
        initializers.push(tensorProto(n, dtype, [], typedFromNumbers(dtype, [value])));
      }
      return n;
    },
  };

  for (const node of nodes) {
    try {
      node.op.lower(node, ctx);
    } catch (e) {
      throw new Error(`exportOnnx: lowering ${node.op.name} failed: ${(e as Error).message}`);
    }
  }
  // Outputs that are inputs/constants, or one value exported under several names, need Identity nodes.
  const outputProtos = outEntries.map(([name, v]) => {
    const cur = ctx.name(v);
    if (cur !== name) ctx.emit("Identity", [cur], [name]);
    return valueInfo(name, v.dtype, v.shape, false);
  });

  const consumed = new Set(onnxNodes.flatMap((n) => n.input as string[]));
  const liveInputs = graph.inputs.filter((v) => consumed.has(v.name!) || outEntries.some(([, o]) => o === v));
  for (const id of usedConstants) {
    const { value, data } = graph.constants.get(id)!;
    initializers.push(tensorProto(names.get(id)!, value.dtype, value.shape as number[], data));
  }

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: "ortrl",
    opsetImport: [{ domain: "", version: OPSET }, ...(onnxNodes.some((n) => n.domain === MS_DOMAIN) ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
    graph: onnx.GraphProto.create({
      name: graphName,
      node: onnxNodes,
      initializer: initializers,
      input: liveInputs.map((v) => valueInfo(v.name!, v.dtype, v.shape, true)),
      output: outputProtos,
    }),
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    inputNames: liveInputs.map((v) => v.name!),
    inputs: liveInputs,
    outputNames: outEntries.map(([n]) => n),
    nodeCount: onnxNodes.length,
  };
}

