/**
 * The seams of a trainer: one Symbol token and one interface of the same name each, resolved from an
 * inversify container. Method plugins bind what their method needs; users may rebind any seam
 * (e.g. their own Optimizer) before training. Injection is explicit (`@inject(TOKEN)`).
 * The Optimizer seam's token and interface live in optim/optimizer.ts.
 */
import type { Observable } from "rxjs";
import type { LlamaConfig } from "../io/hf-model-dir.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { LoraAdapter } from "../lora/adapter.js";
import type { ParamSource } from "../params/param-store.js";
import type { TokenizerLike } from "../tokenizer/tokenizer.js";
import type { GenerateOptions, GenerateOutput } from "../generate/generate.js";
import type { TokenizedExample } from "./examples.js";
import type { TrainerEvent } from "./events.js";
import type { Rng } from "../util/rng.js";

/** The model being trained and which of its tensors are trained. */
export const Policy = Symbol.for("ortrl.Policy");
export interface Policy {
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

/** Arguments a reward function receives (TRL's keyword arguments, camelCased), plus dataset columns. */
export interface RewardArgs {
  prompts: string[];
  completions: string[];
  completionIds: number[][];
  /** Every other dataset column, one entry per completion. */
  [column: string]: unknown;
}

/** Scores completions: one number per completion (null = not applicable). */
export const RewardFn = Symbol.for("ortrl.RewardFn");
export type RewardFn = (args: RewardArgs) => (number | null)[] | Promise<(number | null)[]>;

/** Tokenized training examples of a method. */
export const TrainDataset = Symbol.for("ortrl.TrainDataset");
export interface TrainDataset {
  readonly examples: readonly TokenizedExample[];
}

/** Tokenized held-out examples (optional binding). */
export const EvalDataset = Symbol.for("ortrl.EvalDataset");
export type EvalDataset = TrainDataset;

/** Result of one micro-batch forward/backward. */
export interface MicroStepResult {
  /** Sum of token losses (nats) of the micro-batch. */
  lossSum: number;
  /** Label tokens in the micro-batch. */
  count: number;
  /** d(loss_sum / numItemsInBatch)/d(tensor) per trainable tensor. */
  grads: Map<string, Float32Array>;
}

/** The method's differentiable objective over micro-batches of examples. */
export const Objective = Symbol.for("ortrl.Objective");
export interface Objective {
  /** Label tokens an example contributes (used to normalise over all micro-batches of a step). */
  countItems(example: TokenizedExample): number;
  /** Forward and backward of one micro-batch; `rng` draws dropout masks. */
  microStep(examples: readonly TokenizedExample[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult>;
  /** Summed loss and label tokens of a batch without gradients. */
  evalStep(examples: readonly TokenizedExample[]): Promise<{ lossSum: number; count: number }>;
}

/** The typed event stream of a run. */
export const TrainerEvents = Symbol.for("ortrl.TrainerEvents");
export interface TrainerEvents {
  readonly events$: Observable<TrainerEvent>;
  emit(event: TrainerEvent): void;
}

/** Resolved training arguments (see args.ts). */
export const TrainingArgs = Symbol.for("ortrl.TrainingArgs");

/** The loop (see trainer.ts). */
export const Trainer = Symbol.for("ortrl.Trainer");
