/**
 * The seams of a trainer: one Symbol token and one interface of the same name each, resolved from an
 * inversify container. Method plugins bind what their method needs; users may rebind any seam
 * (e.g. their own Optimizer or ReferenceModel) before training. Injection is explicit (`@inject(TOKEN)`).
 * Some seams live beside their default implementation: the Optimizer seam's token and interface in
 * optim/optimizer.ts, the ReferenceModel seam in train/reference.ts, the TrainerEvents seam in
 * train/events.ts (with EventBus), and the Sampler's default (PolicySampler) in train/policy-sampler.ts;
 * the RewardFn contract is in train/rewards.ts and the training contract (Objective, datasets, StepPlan,
 * Trainer) in train/contract.ts.
 */
import type { LlamaConfig } from "../model/llama-config.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { LoraAdapter } from "../lora/adapter.js";
import type { ParamSource } from "../params/param-store.js";
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import type { GenerateOptions, GenerateOutput } from "../generate/generate.js";

/** The model being trained and which of its tensors are trained. */
export const Policy = Symbol.for("ortrl.Policy");
export interface Policy {
  /** The model as trained: base weights plus the adapter (when LoRA). */
  readonly lm: CausalLM;
  readonly config: LlamaConfig;
  readonly tokenizer: TokenizerLike;
  /** The attached LoRA adapter (null for full fine-tuning). */
  readonly adapter: LoraAdapter | null;
  /** The trained tensors (all model parameters, or LoRA weights plus modules_to_save). */
  readonly trainable: ParamSource;
  /** Writes the trained model: an HF model directory (full) or a PEFT adapter directory (LoRA). */
  save(dir: string): Promise<void>;
  /** Reads back the trained tensors from a directory written by {@link save} (resuming). */
  restore(dir: string): void;
}

/** Learning-rate multiplier per optimizer step (0-based), as transformers' LambdaLR schedules. */
export const LrScheduler = Symbol.for("ortrl.LrScheduler");
export interface LrScheduler {
  factor(step: number): number;
}

/** Draws completions for prompts (GRPO rollouts, evaluation). */
export const Sampler = Symbol.for("ortrl.Sampler");
export interface Sampler {
  generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateOutput>;
}

/** Resolved training arguments (see args.ts). */
export const TrainingArgs = Symbol.for("ortrl.TrainingArgs");
