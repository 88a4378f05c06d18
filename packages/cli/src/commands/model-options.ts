/** Options shared by commands that load a model: --model, --adapter, --device, --threads. */
import { type Command, Option } from "commander";
import { Runtime, type PretrainedModel, adapterDirAsModel, adapterDirNotModelMessage, attachAdapterFromDir, loadPretrained } from "@ortrl/core";
import { UsageError, num } from "../errors.js";

export interface ModelFlags {
  model: string;
  adapter?: string;
  device: "cpu" | "cuda";
  threads?: number;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir>", "Hugging Face model directory (config.json, model.safetensors, tokenizer.json)")
    .option("--adapter <dir>", "PEFT LoRA adapter directory to apply (adapter_config.json, adapter_model.safetensors)")
    .addOption(new Option("--device <device>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--threads <n>", "intra-op threads (default: one per core)", num("--threads", true, 1));
}

/**
 * `--model DIR` where DIR is a PEFT adapter directory (adapter_config.json, no config.json): when the
 * meaning is unambiguous (`redirect`, no `--adapter` given) and its base_model_name_or_path is a local
 * model directory, returns `{ model: BASE, adapter: DIR }` and prints one line on stderr saying so;
 * any other model directory is returned unchanged.
 * @throws UsageError naming the adapter directory and saying to pass `--model BASE --adapter DIR` when
 *   the base is not a local directory, `--adapter` is given as well, or `redirect` is false.
 */
export function resolveAdapterAsModel(flags: { model: string; adapter?: string | null }, redirect = true): { model: string; adapter?: string } {
  const info = adapterDirAsModel(flags.model);
  if (!info) return { model: flags.model, ...(flags.adapter ? { adapter: flags.adapter } : {}) };
  if (!redirect || info.base === null || flags.adapter) throw new UsageError(`--model ${adapterDirNotModelMessage(info)}`);
  process.stderr.write(`ortrl: --model ${info.adapterDir} is a PEFT adapter: loading its base model ${info.base} with --adapter ${info.adapterDir}\n`);
  return { model: info.base, adapter: info.adapterDir };
}

/**
 * Loads --model; with --adapter, `lm` computes through the adapter. An adapter directory as --model
 * loads its base model with it ({@link resolveAdapterAsModel}; `flags` is updated to say so).
 */
export async function loadModel(flags: ModelFlags): Promise<PretrainedModel> {
  Object.assign(flags, resolveAdapterAsModel(flags));
  const runtime = new Runtime({ executionProvider: flags.device, intraOpNumThreads: flags.threads });
  const m = await loadPretrained(flags.model, runtime);
  return flags.adapter ? { ...m, lm: (await attachAdapterFromDir(m.lm, flags.adapter)).lm } : m;
}
