/**
 * `exportGgufLora`: a PEFT LoRA adapter as a GGUF LoRA adapter (`general.type = "adapter"`), the file llama.cpp's
 * `--lora`, node-llama-cpp's `lora.adapters` and Ollama's `ADAPTER` load on top of the base model's GGUF. Layout as
 * llama.cpp's convert_lora_to_gguf.py writes it: `adapter.type = "lora"`, `adapter.lora.alpha`, and for each adapted
 * weight `W` (GGUF name, e.g. `blk.0.attn_q.weight`) the tensors `W.lora_a` (dims [in, r], PEFT's lora_A [r, in])
 * and `W.lora_b` (dims [r, out], PEFT's lora_B [out, r], rows of q/k permuted as the base weight's are).
 *
 * llama.cpp scales the product by `alpha / r` (r = lora_a's second dim), so alpha is written as PEFT's scaling * r
 * (lora_alpha, or lora_alpha * sqrt(r) with use_rslora).
 */
import * as path from "node:path";
import { loadPeftAdapter, loadWeights, readLlamaConfig, readPeftConfig } from "@ortrl/core";
import { type GgufTensorInfo, type GgufValue, gv, writeGguf } from "./gguf-file.js";
import { GgmlType, encodeTensor, ggmlTypeName } from "./ggml-types.js";
import { type ExportGgufResult, type GgufOutType, generalMetadata, withFsContextAsync } from "./export-gguf.js";
import { checkLlamaExportable, ggufTensorName, permuteHeadsOf, permuteRotaryRows } from "./llama-gguf.js";

export interface ExportGgufLoraOptions {
  /** The base model directory the adapter was trained on (its shapes are checked against the adapter). */
  modelDir: string;
  /** PEFT adapter directory (adapter_config.json, adapter_model.safetensors). */
  adapterDir: string;
  output: string;
  /** f32 (default), f16 or bf16. */
  outtype?: GgufOutType;
  name?: string;
  signal?: AbortSignal;
}

const LORA_TYPES: Partial<Record<GgufOutType, { type: GgmlType; fileType: number }>> = {
  f32: { type: GgmlType.F32, fileType: 0 },
  f16: { type: GgmlType.F16, fileType: 1 },
  bf16: { type: GgmlType.BF16, fileType: 32 },
};

/**
 * Writes the adapter as a GGUF LoRA file.
 * @throws Error naming adapter_config.json and the field for modules_to_save (fully trained tensors have no GGUF
 *   LoRA form: merge and export the model instead), an adapter on a tied lm_head, or an outtype other than
 *   f32/f16/bf16; the adapter-loading errors of loadPeftAdapter (base shapes, missing tensors, NaN/Inf).
 */
export async function exportGgufLora(opts: ExportGgufLoraOptions): Promise<ExportGgufResult> {
  const outtype = opts.outtype ?? "f32";
  const t = LORA_TYPES[outtype];
  if (!t) throw new Error(`--outtype ${outtype}: a GGUF LoRA adapter is written as f32, f16 or bf16`);
  const config = readLlamaConfig(opts.modelDir);
  const warnings = checkLlamaExportable(config, path.join(opts.modelDir, "config.json"));
  const cfgFile = path.join(opts.adapterDir, "adapter_config.json");
  const lc = readPeftConfig(opts.adapterDir);
  if (lc.modulesToSave.length) {
    throw new Error(`${cfgFile}: modules_to_save ${JSON.stringify(lc.modulesToSave)}: fully trained tensors cannot be expressed as a GGUF LoRA adapter; export the merged model instead (ortrl export gguf --adapter)`);
  }
  const params = loadWeights(opts.modelDir, config);
  const adapter = loadPeftAdapter(opts.adapterDir, config, params);
  const { r, scaling, modules } = adapter.placement;
  const items: { info: GgufTensorInfo; data: () => Float32Array }[] = [];
  for (const m of [...modules].sort(compareModules)) {
    if (m === "lm_head" && config.tieWordEmbeddings) throw new Error(`${cfgFile}: target_modules includes lm_head, which is tied to the embedding: llama.cpp cannot apply a LoRA to a tied output`);
    const base = ggufTensorName(`${m}.weight`);
    const [out, inp] = params.shape(`${m}.weight`) as [number, number];
    const heads = permuteHeadsOf(`${m}.weight`, config);
    const A = adapter.params.get(`${m}.lora_A.weight`);
    const B = adapter.params.get(`${m}.lora_B.weight`);
    items.push({ info: { name: `${base}.lora_a`, dims: [inp, r], type: t.type }, data: () => A });
    items.push({ info: { name: `${base}.lora_b`, dims: [r, out], type: t.type }, data: () => (heads ? permuteRotaryRows(B, out, r, heads) : B) });
  }
  const meta = new Map<string, GgufValue>([
    ...generalMetadata(opts.name ?? path.basename(path.resolve(opts.adapterDir)), t.fileType, "adapter"),
    ["adapter.type", gv.str("lora")],
    ["adapter.lora.alpha", gv.f32(scaling * r)],
  ]);
  const infos = items.map((i) => i.info);
  const bytes = await withFsContextAsync("write", opts.output, () =>
    writeGguf(opts.output, meta, infos, (i) => encodeTensor(infos[i]!.type, items[i]!.data(), infos[i]!.name), opts.signal),
  );
  return { output: opts.output, bytes, tensors: infos.map((i) => ({ name: i.name, type: ggmlTypeName(i.type), dims: [...i.dims] })), fallbacks: [], warnings };
}

/** Layer order, then module name (model.layers.10 after model.layers.9). */
function compareModules(a: string, b: string): number {
  const la = Number(/layers\.(\d+)\./.exec(a)?.[1] ?? -1);
  const lb = Number(/layers\.(\d+)\./.exec(b)?.[1] ?? -1);
  return la - lb || (a < b ? -1 : a > b ? 1 : 0);
}
