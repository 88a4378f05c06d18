/**
 * What a model or adapter directory holds, without building the model: parameter counts as PEFT's
 * `get_nb_trainable_parameters` / `print_trainable_parameters` make them, the stored dtypes, file sizes,
 * the LoRA config; and, against a base model, which tensors differ and by how much (read one tensor of
 * each model at a time, so neither model is ever in memory whole). `ortrl inspect` prints these, and
 * `ortrl train` prints {@link trainableParametersLine} of {@link policyParameterCounts} when a run starts.
 */
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { isObject, readJson } from "../io/json-fields.js";
import { ModelWeights, WEIGHTS_INDEX_FILE } from "../io/model-weights.js";
import { SafetensorsFile, type SafetensorsDType } from "../io/safetensors.js";
import type { LoraAdapter } from "./adapter.js";
import { readPeftConfig } from "./peft-io.js";
import type { ParamStore } from "../params/param-store.js";
import { IGNORED_UNUSED_TENSORS, formatNames } from "../model/weight-checks.js";

// ---------------------------------------------------------------------------------------------------------------
// Parameter counts

/** Parameter counts of a model as trained (PEFT's `get_nb_trainable_parameters`). */
export interface ParameterCounts {
  /** Parameters that training updates (count of elements). */
  trainable: number;
  /** Every parameter of the model as trained: the base model's plus the adapter's (count of elements). */
  all: number;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Counts parameters as PEFT does for a PeftModel: `all` = the base model's parameters + the adapter's (LoRA A/B
 * and the trained copies of modules_to_save, which PEFT keeps beside the originals); `trainable` = the adapter's,
 * or, without an adapter (full fine-tuning), every base parameter. Tied embeddings are one parameter: give
 * `lm_head.weight` only when the model has its own head.
 * @param base shapes of the base model's parameters.
 * @param adapter shapes of the adapter's tensors (lora_A, lora_B, modules_to_save); null for full fine-tuning.
 */
export function countParameters(base: Iterable<readonly number[]>, adapter: Iterable<readonly number[]> | null): ParameterCounts {
  let baseCount = 0;
  for (const s of base) baseCount += numel(s);
  if (!adapter) return { trainable: baseCount, all: baseCount };
  let adapterCount = 0;
  for (const s of adapter) adapterCount += numel(s);
  return { trainable: adapterCount, all: baseCount + adapterCount };
}

/** {@link countParameters} of a loaded model's parameters and, for LoRA training, its adapter. */
export function policyParameterCounts(baseParams: ParamStore, adapter: LoraAdapter | null): ParameterCounts {
  const base = baseParams.names.map((n) => baseParams.shape(n));
  if (!adapter) return countParameters(base, null);
  return countParameters(base, [...adapter.params.names.map((n) => adapter.params.shape(n)), ...adapter.modulesToSave.map((n) => baseParams.shape(n))]);
}

/** 100 · trainable / all (PEFT's `trainable%`); null when `all` is 0. */
export function trainablePercent(c: ParameterCounts): number | null {
  return c.all > 0 ? (100 * c.trainable) / c.all : null;
}

/**
 * PEFT's `print_trainable_parameters` line: `trainable params: 1,234 || all params: 5,678 || trainable%: 21.7329`
 * (thousands separated by commas, the percentage with 4 decimals).
 */
export function trainableParametersLine(c: ParameterCounts): string {
  const pct = trainablePercent(c);
  return `trainable params: ${groupThousands(c.trainable)} || all params: ${groupThousands(c.all)} || trainable%: ${pct === null ? "nan" : pct.toFixed(4)}`;
}

/** An integer with comma thousands separators, as Python's `f"{n:,d}"`. */
export function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// ---------------------------------------------------------------------------------------------------------------
// Inspecting directories

/** A file of a model or adapter directory and its size. */
export interface InspectedFile {
  /** File name inside the directory. */
  name: string;
  /** Size in bytes. */
  bytes: number;
}

/** What {@link inspectModelDir} found in a Hugging Face model directory. */
export interface ModelInspection {
  kind: "model";
  dir: string;
  /** config.json `architectures[0]`, `model_type`, `num_hidden_layers`, `hidden_size` (null when absent). */
  architecture: string | null;
  modelType: string | null;
  numHiddenLayers: number | null;
  hiddenSize: number | null;
  tieWordEmbeddings: boolean;
  /** Full fine-tuning counts: every parameter trainable (a tied lm_head.weight counted once, with the embedding). */
  params: ParameterCounts;
  /** Stored tensors counted as parameters (rotary inv_freq buffers and a tied lm_head.weight left out). */
  numTensors: number;
  /** Number of stored tensors of each safetensors dtype. */
  dtypes: Record<string, number>;
  /** config.json, the index (sharded weights) and the weight files. */
  files: InspectedFile[];
  /** Sum of `files` sizes, in bytes. */
  totalBytes: number;
}

/** What {@link inspectAdapterDir} found in a PEFT LoRA adapter directory. */
export interface AdapterInspection {
  kind: "adapter";
  dir: string;
  r: number;
  loraAlpha: number;
  /** adapter_config.json's target_modules as written (a list, or a name such as "all-linear" or a regex). */
  targetModules: readonly string[] | string;
  useRslora: boolean;
  modulesToSave: readonly string[];
  /** adapter_config.json's base_model_name_or_path (null when absent). */
  baseModelNameOrPath: string | null;
  /** Modules with a lora_A/lora_B pair (e.g. `model.layers.0.self_attn.q_proj`). */
  adaptedModules: string[];
  /** lora_B tensors holding a non-zero value (a fresh adapter has B = 0, so none). */
  nonZeroLoraB: number;
  /** Count of lora_B tensors. */
  numLoraB: number;
  /** The base model the counts include: the directory and where it came from; null when none was found. */
  base: { dir: string; from: "--against" | "base_model_name_or_path" } | null;
  /** Counts as PEFT's print_trainable_parameters; `all` = base + adapter, and null when no base was found. */
  params: { trainable: number; all: number | null };
  numTensors: number;
  dtypes: Record<string, number>;
  /** adapter_config.json and adapter_model.safetensors. */
  files: InspectedFile[];
  totalBytes: number;
}

/** One tensor compared with the base model's tensor of the same name. */
export interface TensorDiff {
  name: string;
  changed: boolean;
  /** max |Δ| over the elements (Δ = tensor − base tensor, in float32 values, computed in float64). */
  maxAbsDiff: number;
  /** ‖Δ‖ / ‖W_base‖ (Frobenius norms); null when the base tensor is all zeros and Δ is not. */
  relativeNorm: number | null;
}

/** {@link compareModelDirs}'s result. */
export interface ModelComparison {
  base: string;
  /** Every counted tensor, in the directory's order. */
  tensors: TensorDiff[];
  changed: number;
  total: number;
  /** Names of the tensors equal to the base's. */
  unchanged: string[];
}

const LM_HEAD = "lm_head.weight";
const ADAPTER_WEIGHTS = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

/** What a directory is: "model" (config.json) or "adapter" (adapter_config.json; preferred when both are there). */
export function directoryKind(dir: string, what = "directory"): "model" | "adapter" {
  if (!existsSync(dir)) throw new Error(`${what} ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`${what} ${dir} is a file, not a model or adapter directory`);
  if (existsSync(join(dir, "adapter_config.json"))) return "adapter";
  if (existsSync(join(dir, "config.json"))) return "model";
  throw new Error(`${what} ${dir} is not a model or adapter directory: it has neither config.json (a Hugging Face model) nor adapter_config.json (a PEFT adapter)`);
}

function readConfigJson(dir: string): Record<string, unknown> {
  const file = join(dir, "config.json");
  const j = readJson(file);
  if (!isObject(j)) throw new Error(`${file}: not a JSON object`);
  return j;
}

const fileSize = (dir: string, name: string): InspectedFile => ({ name, bytes: statSync(join(dir, name)).size });

/** Names of the stored tensors that are parameters: without rotary buffers, and without a tied lm_head.weight. */
function parameterTensorNames(w: ModelWeights, tied: boolean): string[] {
  return w.tensorNames.filter((n) => !IGNORED_UNUSED_TENSORS.some((re) => re.test(n)) && !(tied && n === LM_HEAD));
}

function countDtypes(infos: Iterable<{ dtype: SafetensorsDType }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of infos) out[i.dtype] = (out[i.dtype] ?? 0) + 1;
  return out;
}

/**
 * Reads a Hugging Face model directory's config.json and safetensors headers (no tensor data).
 * @throws Error naming the directory when it does not exist or is not a model directory; errors of
 *   {@link ModelWeights.open} (no weights, bad index, missing shard) and of config.json (invalid JSON).
 */
export function inspectModelDir(dir: string): ModelInspection {
  if (directoryKind(dir) !== "model") throw new Error(`${dir} is a PEFT adapter directory, not a Hugging Face model directory`);
  const cfg = readConfigJson(dir);
  const tied = cfg["tie_word_embeddings"] === true;
  const w = ModelWeights.open(dir);
  try {
    const names = parameterTensorNames(w, tied);
    const infos = names.map((n) => w.info(n));
    const files = [fileSize(dir, "config.json")];
    if (existsSync(join(dir, WEIGHTS_INDEX_FILE)) && !existsSync(join(dir, "model.safetensors"))) files.push(fileSize(dir, WEIGHTS_INDEX_FILE));
    for (const f of w.files) files.push(fileSize(dir, basename(f.path)));
    const num = (k: string) => (typeof cfg[k] === "number" ? (cfg[k] as number) : null);
    const archs = cfg["architectures"];
    return {
      kind: "model",
      dir,
      architecture: Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : null,
      modelType: typeof cfg["model_type"] === "string" ? cfg["model_type"] : null,
      numHiddenLayers: num("num_hidden_layers"),
      hiddenSize: num("hidden_size"),
      tieWordEmbeddings: tied,
      params: countParameters(infos.map((i) => i.shape), null),
      numTensors: names.length,
      dtypes: countDtypes(infos),
      files,
      totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    };
  } finally {
    w.close();
  }
}

/**
 * Reads a PEFT adapter directory's adapter_config.json and adapter_model.safetensors (lora_B tensors are read
 * to count the non-zero ones; they are small). The base model of the counts is `against`, or else
 * base_model_name_or_path when that is an existing model directory; with a base, every lora_A/lora_B pair and
 * modules_to_save tensor is checked against the base's tensor shapes.
 * @throws Error naming the path when a directory does not exist or is of the wrong kind, adapter_config.json is
 *   invalid (see readPeftConfig), adapter_model.safetensors is missing or has a tensor that is neither LoRA nor
 *   prefixed `base_model.model.`, or a tensor's shape disagrees with the base model's (naming both).
 */
export function inspectAdapterDir(dir: string, against: string | null = null): AdapterInspection {
  if (directoryKind(dir) !== "adapter") throw new Error(`${dir} is a Hugging Face model directory, not a PEFT adapter directory`);
  const config = readPeftConfig(dir);
  const raw = readJson(join(dir, "adapter_config.json")) as Record<string, unknown>;
  const baseName = typeof raw["base_model_name_or_path"] === "string" && raw["base_model_name_or_path"] ? (raw["base_model_name_or_path"] as string) : null;
  const file = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}`);
  let base: AdapterInspection["base"] = null;
  if (against !== null) {
    if (directoryKind(against, "--against") !== "model") throw new Error(`--against ${against} is a PEFT adapter directory; give the base model's directory`);
    base = { dir: against, from: "--against" };
  } else if (baseName && existsSync(join(baseName, "config.json")) && !existsSync(join(baseName, "adapter_config.json"))) {
    base = { dir: baseName, from: "base_model_name_or_path" };
  }
  const st = SafetensorsFile.open(file);
  try {
    const adapted: string[] = [];
    let nonZeroLoraB = 0;
    let numLoraB = 0;
    const shapes: (readonly number[])[] = [];
    const inner = new Map<string, string>(); // stored name -> name without prefix and `.default`
    for (const n of st.tensorNames) {
      const s = n.replace(".default.", ".");
      if (!s.startsWith(PREFIX)) throw new Error(`${file}: tensor '${n}' does not start with '${PREFIX}'`);
      inner.set(n, s.slice(PREFIX.length));
      const info = st.info(n);
      shapes.push(info.shape);
      const m = /^(.*)\.lora_([AB])\.weight$/.exec(s.slice(PREFIX.length));
      if (m?.[2] === "A") adapted.push(m[1]!);
      if (m?.[2] === "B") {
        numLoraB++;
        if (st.readFloat32(n).some((v) => v !== 0)) nonZeroLoraB++;
      }
    }
    let all: number | null = null;
    if (base) {
      const bi = inspectModelDir(base.dir);
      checkAdapterShapes(st, inner, base.dir, bi.tieWordEmbeddings);
      all = bi.params.all + countParameters([], shapes).trainable;
    }
    const files = [fileSize(dir, "adapter_config.json"), fileSize(dir, ADAPTER_WEIGHTS)];
    return {
      kind: "adapter",
      dir,
      r: config.r,
      loraAlpha: config.loraAlpha,
      targetModules: config.targetModules,
      useRslora: config.useRslora,
      modulesToSave: config.modulesToSave,
      baseModelNameOrPath: baseName,
      adaptedModules: adapted,
      nonZeroLoraB,
      numLoraB,
      base,
      params: { trainable: countParameters([], shapes).trainable, all },
      numTensors: st.tensorNames.length,
      dtypes: countDtypes(st.tensorNames.map((n) => st.info(n))),
      files,
      totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    };
  } finally {
    st.close();
  }
}

/** lora_A [r, in] / lora_B [out, r] against the base's `<module>.weight` [out, in]; modules_to_save tensors equal. */
function checkAdapterShapes(st: SafetensorsFile, inner: ReadonlyMap<string, string>, baseDir: string, tied: boolean): void {
  const w = ModelWeights.open(baseDir);
  try {
    for (const [stored, name] of inner) {
      const m = /^(.*)\.lora_([AB])\.weight$/.exec(name);
      const target = m ? `${m[1]}.weight` : tied && name === LM_HEAD ? "model.embed_tokens.weight" : name;
      if (!w.has(target)) throw new Error(`${st.path}: tensor '${stored}' has no '${target}' in the base model ${baseDir}`);
      const bs = w.info(target).shape;
      const s = st.info(stored).shape;
      const ok = m ? s.length === 2 && bs.length === 2 && (m[2] === "A" ? s[1] === bs[1] : s[0] === bs[0]) : s.length === bs.length && s.every((d, i) => d === bs[i]);
      if (!ok) throw new Error(`${st.path}: tensor '${stored}' has shape [${s.join(", ")}], which does not fit '${target}' [${bs.join(", ")}] of the base model ${baseDir}`);
    }
  } finally {
    w.close();
  }
}

/**
 * Compares every parameter tensor of model directory `dir` with the same-named tensor of `base`, reading one
 * tensor of each at a time (memory: two tensors in float32). A tensor is changed when any element differs.
 * @throws Error naming both directories when either is not a model directory, their tensor names differ (listing
 *   them), or a tensor's shape differs.
 */
export function compareModelDirs(dir: string, base: string): ModelComparison {
  const a = inspectModelDir(dir);
  if (directoryKind(base, "--against") !== "model") throw new Error(`--against ${base} is a PEFT adapter directory, not a Hugging Face model directory`);
  const b = inspectModelDir(base);
  const wa = ModelWeights.open(dir);
  try {
    const wb = ModelWeights.open(base);
    try {
      const na = parameterTensorNames(wa, a.tieWordEmbeddings);
      const nb = new Set(parameterTensorNames(wb, b.tieWordEmbeddings));
      const onlyA = na.filter((n) => !nb.has(n));
      const onlyB = [...nb].filter((n) => !na.includes(n));
      if (onlyA.length || onlyB.length) {
        const parts = [onlyA.length ? `${onlyA.length} tensor(s) only in ${dir}: ${formatNames(onlyA)}` : "", onlyB.length ? `${onlyB.length} tensor(s) only in ${base}: ${formatNames(onlyB)}` : ""].filter(Boolean);
        throw new Error(`${dir} and ${base} are not the same model: ${parts.join("; ")}`);
      }
      const tensors = na.map((name) => {
        const sa = wa.info(name).shape;
        const sb = wb.info(name).shape;
        if (sa.length !== sb.length || sa.some((d, i) => d !== sb[i])) throw new Error(`${dir}: tensor '${name}' has shape [${sa.join(", ")}], but in ${base} [${sb.join(", ")}]`);
        return diffTensor(name, wa.readFloat32(name), wb.readFloat32(name));
      });
      const unchanged = tensors.filter((t) => !t.changed).map((t) => t.name);
      return { base, tensors, changed: tensors.length - unchanged.length, total: tensors.length, unchanged };
    } finally {
      wb.close();
    }
  } finally {
    wa.close();
  }
}

function diffTensor(name: string, x: Float32Array, base: Float32Array): TensorDiff {
  let maxAbs = 0;
  let d2 = 0;
  let w2 = 0;
  let changed = false;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - base[i]!;
    if (x[i] !== base[i] && !(Number.isNaN(x[i]) && Number.isNaN(base[i]))) changed = true;
    const ad = Math.abs(d);
    if (ad > maxAbs || Number.isNaN(ad)) maxAbs = ad;
    d2 += d * d;
    w2 += base[i]! * base[i]!;
  }
  const rel = w2 > 0 ? Math.sqrt(d2) / Math.sqrt(w2) : d2 === 0 ? 0 : null;
  return { name, changed, maxAbsDiff: maxAbs, relativeNorm: rel };
}
