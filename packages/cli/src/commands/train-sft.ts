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
 * `--adapter DIR` continues training an existing adapter.
 */
import { sftPlugin } from "@ortrl/sft";
import { trainCommand } from "./train-common.js";

export const trainSftCommand = () =>
  trainCommand({
    plugin: sftPlugin,
    lora: true,
    description:
      "supervised fine-tuning on Alpaca, prompt-completion, conversational or {text} records; " +
      "LoRA when any --lora-*/--target-modules/--use-rslora flag is given (PEFT defaults r 8, alpha 8, q_proj,v_proj for the rest), " +
      "else all parameters (--lora-r 0 = full fine-tuning)",
  });
