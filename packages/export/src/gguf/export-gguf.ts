/**
 * `exportGguf`: a Hugging Face Llama/Mistral directory (optionally with a PEFT LoRA adapter merged in) to one GGUF
 * v3 file that llama.cpp, node-llama-cpp and Ollama load: llama.cpp's metadata keys and tensor names, its tokenizer
 * metadata, and weights as f32, f16, bf16, q8_0 or q4_0.
 *
 * Tensor types follow llama.cpp's converter (convert_hf_to_gguf.py): 1-D tensors (norms, biases) stay F32; 2-D
 * tensors take the requested type, and a block type (q8_0, q4_0) falls back to F16 for a tensor whose rows are not
 * a multiple of 32 values (e.g. stories260K's down_proj, 172 inputs per row).
 *
 * Without an adapter the weights stream: one tensor is read, converted and written at a time, so peak memory is
 * about the largest tensor, not the model. With an adapter the model is loaded and merged (PEFT merge_and_unload) first.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type LlamaConfig, type ParamStore, checkTensorNames, loadPeftAdapter, loadWeights, mergeLora, openModelWeights,
  readLlamaConfig, withFsContext,
} from "@ortrl/core";
import { type GgufTensorInfo, type GgufValue, gv, writeGguf } from "./gguf-file.js";
import { GgmlType, encodeTensor, ggmlTypeName, rowFits } from "./ggml-types.js";
import { checkLlamaExportable, llamaMetadata, llamaTensorPlan, permuteRotaryRows } from "./llama-gguf.js";
import { tokenizerMetadata } from "./tokenizer-gguf.js";

/** Output weight types (llama.cpp converter's `--outtype` names, plus q4_0). */
export const GGUF_OUTTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0"] as const;
export type GgufOutType = (typeof GGUF_OUTTYPES)[number];

const OUT_TYPE: Record<GgufOutType, { type: GgmlType; fileType: number }> = {
  // llama_ftype values (general.file_type)
  f32: { type: GgmlType.F32, fileType: 0 },
  f16: { type: GgmlType.F16, fileType: 1 },
  q4_0: { type: GgmlType.Q4_0, fileType: 2 },
  q8_0: { type: GgmlType.Q8_0, fileType: 7 },
  bf16: { type: GgmlType.BF16, fileType: 32 },
};

export interface ExportGgufOptions {
  /** Hugging Face model directory (config.json, safetensors weights, tokenizer.json). */
  modelDir: string;
  /** PEFT LoRA adapter directory merged into the weights before export. */
  adapterDir?: string;
  /** The .gguf file to write (replaced only once the new file is complete). */
  output: string;
  /** Weight type of 2-D tensors; default "f16" (as llama.cpp's converter). */
  outtype?: GgufOutType;
  /** A Jinja chat template for `tokenizer.chat_template` instead of the tokenizer's (e.g. the one used in training). */
  chatTemplate?: string;
  /** `general.name`; default the model directory's name. */
  name?: string;
  /** Aborts between tensors; the partial file is removed. */
  signal?: AbortSignal;
}

export interface ExportGgufResult {
  output: string;
  /** File size in bytes. */
  bytes: number;
  tensors: { name: string; type: string; dims: number[] }[];
  /** Tensors stored as F16 because their rows are not a multiple of the block size. */
  fallbacks: string[];
  /** Things the user should know (e.g. a capped context length). */
  warnings: string[];
}

/** Type of one tensor: F32 for 1-D, else the requested type, with the converter's F16 fallback for block types. */
export function tensorTypeFor(outtype: GgufOutType, dims: readonly number[]): { type: GgmlType; fallback: boolean } {
  if (dims.length === 1) return { type: GgmlType.F32, fallback: false };
  const want = OUT_TYPE[outtype].type;
  if (rowFits(want, dims[0]!)) return { type: want, fallback: false };
  return { type: GgmlType.F16, fallback: true };
}

/** Reads float32 tensors by Hugging Face name, one at a time. */
interface FloatSource {
  read(name: string): Float32Array;
  close(): void;
}

function streamingSource(dir: string, config: LlamaConfig, plan: { hfName: string; shape: number[] }[]): FloatSource {
  const weights = openModelWeights(dir);
  try {
    const tied = config.tieWordEmbeddings;
    const present = [...weights.tensorNames.filter((n) => !(tied && n === "lm_head.weight")), ...weights.unindexedTensorNames];
    checkTensorNames({ source: dir, expected: plan.map((p) => p.hfName), present, numHiddenLayers: config.numHiddenLayers });
    for (const p of plan) {
      const shape = weights.info(p.hfName).shape;
      if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`${dir}: tensor '${p.hfName}' has shape [${shape.join(", ")}], config implies [${p.shape.join(", ")}]`);
      }
    }
  } catch (e) {
    weights.close();
    throw e;
  }
  return { read: (name) => weights.readFloat32(name), close: () => weights.close() };
}

function mergedSource(dir: string, adapterDir: string, config: LlamaConfig): FloatSource {
  const params: ParamStore = loadWeights(dir, config);
  const adapter = loadPeftAdapter(adapterDir, config, params);
  mergeLora(params, adapter);
  return { read: (name) => params.get(name), close: () => {} };
}

/** `general.*` keys as llama.cpp's converter writes them. */
export function generalMetadata(name: string, fileType: number, type: "model" | "adapter"): [string, GgufValue][] {
  return [
    ["general.architecture", gv.str("llama")],
    ["general.type", gv.str(type)],
    ["general.name", gv.str(name)],
    ["general.file_type", gv.u32(fileType)],
    ["general.quantization_version", gv.u32(2)],
  ];
}

/**
 * Writes `opts.output` as a GGUF v3 file of the model (with the adapter merged in when given).
 * @returns what was written (size in bytes, each tensor's type, F16 fallbacks, warnings).
 * @throws Error naming the file and field for an unsupported architecture (Qwen2, rope_scaling), a tokenizer
 *   llama.cpp cannot take ({@link tokenizerMetadata}), weights that do not match config.json, an adapter whose base
 *   does not match, NaN/Inf or float16-overflowing values (naming the tensor), or an unknown outtype. On any error or
 *   abort no file is left at (or replaced at) `output`.
 */
export async function exportGguf(opts: ExportGgufOptions): Promise<ExportGgufResult> {
  const outtype = opts.outtype ?? "f16";
  if (!(GGUF_OUTTYPES as readonly string[]).includes(outtype)) throw new Error(`unknown GGUF outtype '${outtype}' (expected one of ${GGUF_OUTTYPES.join(", ")})`);
  const config = readLlamaConfig(opts.modelDir);
  const source = path.join(opts.modelDir, "config.json");
  const warnings = checkLlamaExportable(config, source);
  const plan = llamaTensorPlan(config);
  const tokenizer = await tokenizerMetadata(opts.modelDir, config.vocabSize, { chatTemplate: opts.chatTemplate, warnings });
  const meta = new Map<string, GgufValue>([
    ...generalMetadata(opts.name ?? path.basename(path.resolve(opts.modelDir)), OUT_TYPE[outtype].fileType, "model"),
    ...llamaMetadata(config),
    ...tokenizer,
  ]);
  const fallbacks: string[] = [];
  const infos: GgufTensorInfo[] = plan.map((p) => {
    const dims = [...p.shape].reverse();
    const { type, fallback } = tensorTypeFor(outtype, dims);
    if (fallback) fallbacks.push(p.ggufName);
    return { name: p.ggufName, dims, type };
  });
  const src = opts.adapterDir ? mergedSource(opts.modelDir, opts.adapterDir, config) : streamingSource(opts.modelDir, config, plan);
  try {
    const bytes = await withFsContextAsync("write", opts.output, () =>
      writeGguf(opts.output, meta, infos, (i) => {
        const p = plan[i]!;
        let x = src.read(p.hfName);
        if (p.permuteHeads) x = permuteRotaryRows(x, p.shape[0]!, p.shape[1] ?? 1, p.permuteHeads);
        try {
          return encodeTensor(infos[i]!.type, x, p.hfName);
        } catch (e) {
          throw new Error(`${opts.adapterDir ? `${opts.modelDir} + adapter ${opts.adapterDir}` : opts.modelDir}: ${(e as Error).message}`);
        }
      }, opts.signal),
    );
    return {
      output: opts.output,
      bytes,
      tensors: infos.map((t) => ({ name: t.name, type: ggmlTypeName(t.type), dims: [...t.dims] })),
      fallbacks,
      warnings,
    };
  } finally {
    src.close();
  }
}

/** withFsContext for an async body: file-system errors name the path and what was being done. */
export async function withFsContextAsync<T>(op: string, file: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    return withFsContext(op, file, () => { throw e; });
  }
}

