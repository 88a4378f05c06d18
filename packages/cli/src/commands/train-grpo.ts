/**
 * `ortrl train grpo --model DIR --data FILE --output-dir DIR --reward-funcs SPEC... [--reward-weights W...]
 * [--num-generations G] [--max-completion-length N] [--temperature T] [--beta B] [--epsilon E]
 * [--num-iterations K] [--loss-type T] [--scale-rewards S] [LoRA flags | --adapter DIR] [...training flags]`:
 * Group Relative Policy Optimization (TRL's GRPOTrainer) with reward functions written in TypeScript.
 * SPEC is a built-in (`accuracy`, `format`) or `FILE:exportName` (.ts, .mts, .js, .mjs).
 */
import { grpoPlugin } from "@ortrl/grpo";
import { trainCommand } from "./train-common.js";

export const trainGrpoCommand = () =>
  trainCommand({
    plugin: grpoPlugin,
    lora: true,
    description:
      "Group Relative Policy Optimization: sample --num-generations completions per prompt, score them with --reward-funcs " +
      "(built-ins accuracy, format, or FILE.ts:exportName), reinforce the better ones; LoRA when any --lora-*/--target-modules flag is given",
  });
