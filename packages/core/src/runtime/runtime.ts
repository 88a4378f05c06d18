/**
 * The one module that imports onnxruntime-node: sessions, execution providers, threads, feeds.
 *
 * Feeds are wrapped zero-copy (a Float32Array view, subarray included, is handed to onnxruntime as is).
 * Outputs are fresh copies made by onnxruntime; keep large state out of graph outputs.
 */
import * as ort from "onnxruntime-node";
import { type AnyTypedArray, type DType, ORT_TYPE } from "../ir/dtype.js";
import type { Graph, Value } from "../ir/graph.js";
import { formatShape } from "../ir/shape.js";
import { exportOnnx } from "../onnx/export.js";

export type ExecutionProvider = "cpu" | "cuda";

export interface RuntimeOptions {
  /** Execution provider; `cuda` needs onnxruntime-node installed with `ONNXRUNTIME_NODE_INSTALL=cuda12`. Default `cpu`. */
  executionProvider?: ExecutionProvider;
  /** Intra-op threads (default: onnxruntime's choice, one per physical core). */
  intraOpNumThreads?: number;
  /** Graph optimisation level (default `all`, which fuses RMSNorm, SiLU and transposes into matmuls). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Dump optimised models here for inspection (debugging). */
  optimizedModelDir?: string;
  /** onnxruntime's CPU memory arena (default true: turning it off costs 14-32% speed, DESIGN.md). */
  enableCpuMemArena?: boolean;
  /**
   * Pre-planned memory pattern for repeated shapes (default false: measured on a SmolLM2-135M training
   * step, the pattern raised peak RSS by 1.3 GiB at no speed gain; see BENCHMARKS.md).
   */
  enableMemPattern?: boolean;
  /**
   * Writes onnxruntime's profile (Chrome trace JSON: one event per node run with its duration in µs and input
   * shapes) to files starting with this prefix; {@link Executable.endProfiling} writes it.
   */
  profileFilePrefix?: string;
}

/** A tensor handed to or returned by a session: typed data in row-major order with concrete dims. */
export interface TensorData {
  data: AnyTypedArray;
  dims: readonly number[];
}

function toOrt(dtype: DType, t: TensorData): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[dtype] as ort.Tensor.Type, t.data as never, t.dims as number[]);
}

/** A compiled graph: one onnxruntime session and the names it reads and writes. */
export class Executable {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly Value[],
    readonly outputNames: readonly string[],
    readonly nodeCount: number,
  ) {}

  get inputNames(): string[] {
    return this.inputs.map((v) => v.name!);
  }

  /**
   * Runs the session. `feeds` must hold every input the graph reads (extra keys are ignored).
   * @returns one TensorData per output name.
   * @throws Error naming the missing input, or a shape mismatch against the declared static dims.
   */
  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const v of this.inputs) {
      const t = feeds[v.name!];
      if (!t) throw new Error(`run: missing input '${v.name}' (${v.dtype}${formatShape(v.shape)})`);
      if (t.dims.length !== v.rank || v.shape.some((d, i) => typeof d === "number" && d !== t.dims[i])) {
        throw new Error(`run: input '${v.name}' has dims ${formatShape(t.dims)}, graph expects ${formatShape(v.shape)}`);
      }
      ortFeeds[v.name!] = toOrt(v.dtype, t);
    }
    const out = await this.session.run(ortFeeds);
    const result: Record<string, TensorData> = {};
    for (const name of this.outputNames) {
      const t = out[name]!;
      result[name] = { data: t.data as AnyTypedArray, dims: t.dims };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** Ends profiling (runtime option `profileFilePrefix`): onnxruntime writes `<prefix>_<date>.json` in the working directory. */
  endProfiling(): void {
    this.session.endProfiling();
  }
}

/**
 * Creates sessions for graphs, cached per (graph, output names): building the same graph's
 * executable twice returns the cached one.
 */
export class Runtime {
  private readonly cache = new WeakMap<Graph, Map<string, Promise<Executable>>>();
  constructor(readonly options: RuntimeOptions = {}) {}

  /** Compiles the subgraph computing `outputs` (name -> value). */
  compile(graph: Graph, outputs: Record<string, Value>): Promise<Executable> {
    let perGraph = this.cache.get(graph);
    if (!perGraph) {
      perGraph = new Map();
      this.cache.set(graph, perGraph);
    }
    const key = Object.entries(outputs)
      .map(([k, v]) => `${k}=${v.id}`)
      .join(",");
    let exe = perGraph.get(key);
    if (!exe) {
      exe = this.create(graph, outputs);
      perGraph.set(key, exe);
    }
    return exe;
  }

  /** Releases every session compiled from `graph` (their memory, e.g. embedded weights, is freed). */
  async release(graph: Graph): Promise<void> {
    const perGraph = this.cache.get(graph);
    if (!perGraph) return;
    this.cache.delete(graph);
    for (const exe of perGraph.values()) await (await exe).release();
  }

  private async create(graph: Graph, outputs: Record<string, Value>): Promise<Executable> {
    const model = exportOnnx(graph, outputs);
    const session = await createSession(model.bytes, this.options);
    return new Executable(session, model.inputs, model.outputNames, model.nodeCount);
  }
}

const CUDA_HINT =
  "the CUDA execution provider is not installed: reinstall onnxruntime-node with its CUDA binaries " +
  "(ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false, CUDA 12 + cuDNN 9 on the library path), or run on the CPU (--device cpu / executionProvider 'cpu')";

// onnxruntime logs failures itself before throwing them; ortrl reports the thrown error instead.
// ORTRL_ORT_LOG_LEVEL=verbose|info|warning|error|fatal restores its own logging.
ort.env.logLevel = (process.env.ORTRL_ORT_LOG_LEVEL as typeof ort.env.logLevel) ?? "fatal";

const ORT_SEVERITY: Record<string, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };

/** Creates an onnxruntime session from model bytes with ortrl's defaults. */
export async function createSession(bytes: Uint8Array, options: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  const ep = options.executionProvider ?? "cpu";
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
    enableCpuMemArena: options.enableCpuMemArena ?? true,
    logSeverityLevel: ORT_SEVERITY[ort.env.logLevel ?? "fatal"] ?? 4,
    enableMemPattern: options.enableMemPattern ?? false,
  };
  if (options.intraOpNumThreads) so.intraOpNumThreads = options.intraOpNumThreads;
  if (options.profileFilePrefix) Object.assign(so, { enableProfiling: true, profileFilePrefix: options.profileFilePrefix });
  if (options.optimizedModelDir) so.optimizedModelFilePath = `${options.optimizedModelDir}/optimized-${Date.now()}.onnx`;
  try {
    return await ort.InferenceSession.create(bytes, so);
  } catch (e) {
    const msg = (e as Error).message;
    if (ep === "cuda" && /cuda|provider/i.test(msg)) throw new Error(`${CUDA_HINT} (onnxruntime said: ${msg})`);
    throw e;
  }
}

/** Execution providers the installed onnxruntime-node binding reports. */
export function availableProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}
