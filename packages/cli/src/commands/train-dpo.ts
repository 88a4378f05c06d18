/**
 * `ortrl train dpo --model DIR --data FILE --output-dir DIR [--beta B] [--loss-type T]
 * [--label-smoothing S] [--precompute-ref-log-probs] [--max-length N] [--max-prompt-length N]
 * [LoRA flags | --adapter DIR] [...training flags]`: Direct Preference Optimization (TRL's
 * DPOTrainer) on preference pairs, in full (reference = a frozen copy of --model) or through a LoRA
 * adapter (reference = the same weights without the adapter). `--max-seq-length` is an alias of
 * `--max-length`.
 */
import { dpoPlugin } from "@ortrl/dpo";
import { trainCommand } from "./train-common.js";

export const trainDpoCommand = () =>
  trainCommand({
    plugin: dpoPlugin,
    lora: true,
    description:
      "Direct Preference Optimization on {prompt, chosen, rejected} pairs (also message lists, implicit prompts and ShareGPT rankings); " +
      "LoRA when any --lora-*/--target-modules/--use-rslora flag is given (reference = base without the adapter), else all parameters (reference = a frozen copy)",
  });
