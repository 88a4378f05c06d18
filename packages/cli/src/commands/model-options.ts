/** Options shared by commands that load a model: --model, --adapter, --device, --threads. */
import { type Command, Option } from "commander";
import { Runtime, type PretrainedModel, attachAdapterFromDir, loadPretrained } from "@ortrl/core";
import { num } from "../errors.js";

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

/** Loads --model; with --adapter, `lm` computes through the adapter. */
export async function loadModel(flags: ModelFlags): Promise<PretrainedModel> {
  const runtime = new Runtime({ executionProvider: flags.device, intraOpNumThreads: flags.threads });
  const m = await loadPretrained(flags.model, runtime);
  return flags.adapter ? { ...m, lm: (await attachAdapterFromDir(m.lm, flags.adapter)).lm } : m;
}
