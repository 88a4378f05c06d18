/**
 * `ortrl train sft --model DIR --data FILE --output-dir DIR [LoRA flags] [...training flags]`:
 * supervised fine-tuning (TRL's SFTTrainer) on Alpaca, prompt-completion, conversational or
 * language-modeling records (detected per record), in full or through a LoRA adapter.
 *
 * LoRA: used when any LoRA flag or config key is given (--lora-r, --lora-alpha, --lora-dropout,
 * --target-modules, --lora-modules-to-save, --use-rslora; config keys lora_r, lora_alpha,
 * lora_dropout, lora_target_modules, lora_modules_to_save, use_rslora as in TRL's ModelConfig);
 * unspecified fields take PEFT's LoraConfig defaults (r 8, alpha 8, dropout 0, q_proj,v_proj).
 * Without any of them, or with --lora-r 0, all parameters are trained. With LoRA the output
 * directory is a PEFT adapter directory (adapter_config.json + adapter_model.safetensors).
 */
import { Command } from "commander";
import type { LoraConfig } from "@ortrl/core";
import { type SftConfig, sftPlugin } from "@ortrl/sft";
import { z } from "zod";
import { num } from "../errors.js";
import { readConfigFile, trainingSchema } from "../config-file.js";
import { addTrainingOptions, flagsToConfig, runTraining } from "./train-common.js";

const names = z.union([z.string(), z.array(z.string())]);

/** Config-file keys of `train sft`: the common ones, TRL SFTConfig's data fields and TRL ModelConfig's LoRA fields. */
export const sftSchema = trainingSchema.extend({
  completionOnlyLoss: z.boolean().nullable(),
  assistantOnlyLoss: z.boolean(),
  chatTemplate: z.string().nullable(),
  chatTemplatePath: z.string(),
  datasetTextField: z.string(),
  /** TRL's current name for max_seq_length. */
  maxLength: z.number().int(),
  loraR: z.number().int(),
  loraAlpha: z.number(),
  loraDropout: z.number(),
  loraTargetModules: names,
  loraModulesToSave: names,
  useRslora: z.boolean(),
});

const LORA_KEYS = ["loraR", "loraAlpha", "loraDropout", "loraTargetModules", "loraModulesToSave", "useRslora"] as const;

/**
 * "all-linear" stays as is; a comma-separated list of module names ("q_proj,v_proj") or a YAML list
 * becomes a list (suffix matches, as PEFT's lists); any other string is a regular expression over
 * full module names (PEFT's string form).
 */
export function parseTargetModules(v: string | readonly string[]): string | string[] {
  if (Array.isArray(v)) return v.map((s) => String(s).trim()).filter(Boolean);
  const s = (v as string).trim();
  if (s === "all-linear") return s;
  if (/^[\w.]+(\s*,\s*[\w.]+)*$/.test(s)) return s.split(",").map((x) => x.trim());
  return s;
}

const list = (v: string | readonly string[]): string[] => (Array.isArray(v) ? [...v] : (v as string).split(",")).map((s) => String(s).trim()).filter(Boolean);

/** The LoRA config the merged options ask for, or null (full fine-tuning) when no LoRA key is set. */
export function loraFromOptions(o: Record<string, unknown>): Partial<LoraConfig> | null {
  if (!LORA_KEYS.some((k) => o[k] !== undefined)) return null;
  const lora: Partial<LoraConfig> = {};
  if (o.loraR !== undefined) lora.r = o.loraR as number;
  if (o.loraAlpha !== undefined) lora.loraAlpha = o.loraAlpha as number;
  if (o.loraDropout !== undefined) lora.loraDropout = o.loraDropout as number;
  if (o.loraTargetModules !== undefined) lora.targetModules = parseTargetModules(o.loraTargetModules as string | string[]);
  if (o.loraModulesToSave !== undefined) lora.modulesToSave = list(o.loraModulesToSave as string | string[]);
  if (o.useRslora !== undefined) lora.useRslora = o.useRslora as boolean;
  return lora;
}

export function trainSftCommand(): Command {
  const cmd = new Command("sft").description(
    "supervised fine-tuning on Alpaca, prompt-completion, conversational or {text} records; " +
      "LoRA when any --lora-*/--target-modules/--use-rslora flag is given (PEFT defaults r 8, alpha 8, q_proj,v_proj for the rest), " +
      "else all parameters (--lora-r 0 = full fine-tuning)",
  );
  addTrainingOptions(cmd)
    .option("--eval-holdout <f>", "hold out this fraction of the training records (the last ones) for evaluation", num("--eval-holdout", false, 0))
    .option("--packing", "pack examples into --max-seq-length rows (best-fit decreasing; samples do not attend to each other)")
    .option("--completion-only-loss", "score only completions of prompt-completion / Alpaca records (default for those)")
    .option("--no-completion-only-loss", "score prompts too")
    .option("--assistant-only-loss", "score only assistant turns of conversational records")
    .option("--chat-template <file>", ".jinja chat template to use instead of the tokenizer's")
    .option("--dataset-text-field <name>", "field of language-modeling records (default text)")
    .option("--lora-r <r>", "LoRA rank (0 = full fine-tuning)", num("--lora-r", true, 0))
    .option("--lora-alpha <a>", "LoRA alpha (scaling alpha/r)", num("--lora-alpha", false, 0))
    .option("--lora-dropout <d>", "dropout on the LoRA input", num("--lora-dropout", false, 0))
    .option("--target-modules <modules>", "all-linear, or module names such as q_proj,v_proj")
    .option("--lora-modules-to-save <modules>", "modules trained fully and saved with the adapter, e.g. embed_tokens,lm_head")
    .option("--use-rslora", "rank-stabilised LoRA scaling alpha/sqrt(r)")
    .option("--embedding-learning-rate <x>", "learning rate of embed_tokens / lm_head", num("--embedding-learning-rate", false, 0))
    .action(async (flags: Record<string, unknown>) => {
      const file = typeof flags.config === "string" ? flags.config : undefined;
      const fromFile: Record<string, unknown> = file ? readConfigFile(file, sftSchema as z.ZodObject) : {};
      const cli = flagsToConfig(flags);
      if (cli.targetModules !== undefined) cli.loraTargetModules = cli.targetModules;
      delete cli.targetModules;
      const options: Record<string, unknown> = { ...fromFile, ...cli };
      if (options.maxSeqLength === undefined && options.maxLength !== undefined) options.maxSeqLength = options.maxLength;
      if (options.chatTemplate === undefined && options.chatTemplatePath !== undefined) options.chatTemplate = options.chatTemplatePath;
      await runTraining<SftConfig>({
        plugin: sftPlugin,
        options,
        source: file ?? "command line",
        lora: loraFromOptions(options),
        toConfig: (o) => {
          const rest: Record<string, unknown> = { ...o };
          for (const k of [...LORA_KEYS, "maxLength", "chatTemplatePath", "data", "evalData"]) delete rest[k];
          return {
            ...(rest as Partial<SftConfig>),
            dataFiles: (o.data as string[] | undefined) ?? [],
            evalDataFiles: (o.evalData as string[] | undefined) ?? [],
            outputDir: o.outputDir as string,
          };
        },
      });
    });
  return cmd;
}
