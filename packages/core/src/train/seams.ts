/**
 * The seams of a trainer: one Symbol token and one interface of the same name each, resolved from an
 * inversify container. Method plugins bind what their method needs; users may rebind any seam
 * (e.g. their own Optimizer or ReferenceModel) before training. Injection is explicit (`@inject(TOKEN)`).
 * The Optimizer seam's token and interface live in optim/optimizer.ts; the ReferenceModel seam in
 * train/reference.ts; the RewardFn contract in train/rewards.ts; the training contract (Objective,
 * datasets, StepPlan, Trainer) in train/contract.ts.
 */
import type { Observable } from "rxjs";
import type { LlamaConfig } from "../io/hf-model-dir.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { LoraAdapter } from "../lora/adapter.js";
import type { ParamSource } from "../params/param-store.js";
import type { TokenizerLike } from "../tokenizer/tokenizer.js";
import type { GenerateOptions, GenerateOutput } from "../generate/generate.js";
import type { TrainerEvent } from "./events.js";

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

/** The typed event stream of a run. */
export const TrainerEvents = Symbol.for("ortrl.TrainerEvents");
export interface TrainerEvents {
  readonly events$: Observable<TrainerEvent>;
  emit(event: TrainerEvent): void;
}

/** Resolved training arguments (see args.ts). */
export const TrainingArgs = Symbol.for("ortrl.TrainingArgs");
