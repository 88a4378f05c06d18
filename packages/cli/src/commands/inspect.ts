/**
 * `ortrl inspect DIR [--against BASE] [--json]`: what a Hugging Face model directory or a PEFT adapter
 * directory holds — parameter counts (PEFT's `trainable params: ... || all params: ... || trainable%: ...`),
 * stored dtypes, file sizes in bytes, layers and hidden size, or the LoRA config and how many lora_B tensors
 * are non-zero. With `--against BASE`, a model is compared tensor by tensor with BASE (max |Δ|, ‖Δ‖/‖W‖, "N of
 * M tensors changed" and the unchanged names); an adapter's counts include BASE. Prints a text report, or with
 * `--json` one JSON object (snake_case keys). Errors (a path that is not a model or adapter directory, shapes
 * that differ from BASE) are one line naming the path.
 */
import { Command } from "commander";
import {
  type AdapterInspection,
  type ModelComparison,
  type ModelInspection,
  compareModelDirs,
  directoryKind,
  groupThousands,
  inspectAdapterDir,
  inspectModelDir,
  trainableParametersLine,
  trainablePercent,
} from "@ortrl/core";

interface InspectFlags {
  against?: string;
  json?: boolean;
}

export function inspectCommand(): Command {
  return new Command("inspect")
    .description("parameter counts, dtypes, file sizes and LoRA config of a model or adapter directory; with --against, which tensors differ from a base model")
    .argument("<dir>", "a Hugging Face model directory (config.json + safetensors) or a PEFT adapter directory (adapter_config.json + adapter_model.safetensors)")
    .option("--against <base>", "base model directory: compare a model with it tensor by tensor; for an adapter, the base its counts include (default: base_model_name_or_path when that directory exists)")
    .option("--json", "print one JSON object instead of the text report")
    .action((dir: string, flags: InspectFlags) => {
      const against = flags.against ?? null;
      const kind = directoryKind(dir);
      if (kind === "adapter") {
        const a = inspectAdapterDir(dir, against);
        process.stdout.write(flags.json ? JSON.stringify(adapterJson(a)) + "\n" : adapterText(a));
      } else {
        const m = inspectModelDir(dir);
        const cmp = against !== null ? compareModelDirs(dir, against) : null;
        process.stdout.write(flags.json ? JSON.stringify(modelJson(m, cmp)) + "\n" : modelText(m, cmp));
      }
    });
}

const pct = (trainable: number, all: number | null) => (all === null ? null : trainablePercent({ trainable, all }));
const filesJson = (x: ModelInspection | AdapterInspection) => ({ files: x.files.map((f) => ({ name: f.name, bytes: f.bytes })), total_bytes: x.totalBytes });

function modelJson(m: ModelInspection, cmp: ModelComparison | null): Record<string, unknown> {
  return {
    kind: "model",
    dir: m.dir,
    architecture: m.architecture,
    model_type: m.modelType,
    num_hidden_layers: m.numHiddenLayers,
    hidden_size: m.hiddenSize,
    tie_word_embeddings: m.tieWordEmbeddings,
    trainable_params: m.params.trainable,
    all_params: m.params.all,
    trainable_percent: trainablePercent(m.params),
    num_tensors: m.numTensors,
    dtypes: m.dtypes,
    ...filesJson(m),
    ...(cmp
      ? {
          against: cmp.base,
          changed_tensors: cmp.changed,
          total_tensors: cmp.total,
          unchanged: cmp.unchanged,
          tensors: cmp.tensors.map((t) => ({ name: t.name, changed: t.changed, max_abs_diff: t.maxAbsDiff, relative_norm: t.relativeNorm })),
        }
      : {}),
  };
}

function adapterJson(a: AdapterInspection): Record<string, unknown> {
  return {
    kind: "adapter",
    dir: a.dir,
    r: a.r,
    lora_alpha: a.loraAlpha,
    target_modules: a.targetModules,
    use_rslora: a.useRslora,
    modules_to_save: a.modulesToSave,
    base_model_name_or_path: a.baseModelNameOrPath,
    base: a.base?.dir ?? null,
    base_from: a.base?.from ?? null,
    adapted_modules: a.adaptedModules.length,
    lora_b_nonzero: a.nonZeroLoraB,
    lora_b_tensors: a.numLoraB,
    trainable_params: a.params.trainable,
    all_params: a.params.all,
    trainable_percent: pct(a.params.trainable, a.params.all),
    num_tensors: a.numTensors,
    dtypes: a.dtypes,
    ...filesJson(a),
  };
}

const dtypesText = (d: Record<string, number>) =>
  Object.entries(d)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const filesText = (x: ModelInspection | AdapterInspection) => [
  `files (bytes): ${x.files.map((f) => `${f.name} ${groupThousands(f.bytes)}`).join(", ")}; total ${groupThousands(x.totalBytes)}`,
];

function modelText(m: ModelInspection, cmp: ModelComparison | null): string {
  const shape = [m.architecture ?? m.modelType ?? "unknown architecture", m.numHiddenLayers !== null ? `${m.numHiddenLayers} layers` : null, m.hiddenSize !== null ? `hidden size ${m.hiddenSize}` : null, m.tieWordEmbeddings ? "tied embeddings" : null];
  const lines = [
    `model: ${m.dir} (${shape.filter(Boolean).join(", ")})`,
    trainableParametersLine(m.params),
    `tensors: ${m.numTensors} (${dtypesText(m.dtypes)})`,
    ...filesText(m),
  ];
  if (cmp) {
    lines.push(`against ${cmp.base}: ${cmp.changed} of ${cmp.total} tensors changed`);
    if (cmp.unchanged.length) lines.push(`unchanged: ${cmp.unchanged.join(", ")}`);
    const w = Math.max(...cmp.tensors.map((t) => t.name.length), 6);
    lines.push(`  ${"tensor".padEnd(w)}  ${"max|Δ|".padStart(10)}  ${"‖Δ‖/‖W‖".padStart(10)}`);
    for (const t of cmp.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.maxAbsDiff.toExponential(3).padStart(10)}  ${(t.relativeNorm === null ? "inf" : t.relativeNorm.toExponential(3)).padStart(10)}`);
  }
  return lines.join("\n") + "\n";
}

function adapterText(a: AdapterInspection): string {
  const tm = typeof a.targetModules === "string" ? a.targetModules : a.targetModules.join(", ");
  const lines = [
    `adapter: ${a.dir} (LoRA r ${a.r}, lora_alpha ${a.loraAlpha}, use_rslora ${a.useRslora})`,
    `target_modules: ${tm} (${a.adaptedModules.length} adapted modules); modules_to_save: ${a.modulesToSave.length ? a.modulesToSave.join(", ") : "none"}`,
    `lora_B non-zero: ${a.nonZeroLoraB} of ${a.numLoraB}${a.nonZeroLoraB === 0 ? " (an untrained adapter: it changes nothing)" : ""}`,
    a.base ? `base: ${a.base.dir} (from ${a.base.from})` : `base: not found${a.baseModelNameOrPath ? ` (base_model_name_or_path ${JSON.stringify(a.baseModelNameOrPath)} is not a model directory here)` : ""}; pass --against BASE for all params`,
    a.params.all !== null ? trainableParametersLine({ trainable: a.params.trainable, all: a.params.all }) : `trainable params: ${groupThousands(a.params.trainable)}`,
    `tensors: ${a.numTensors} (${dtypesText(a.dtypes)})`,
    ...filesText(a),
  ];
  return lines.join("\n") + "\n";
}
