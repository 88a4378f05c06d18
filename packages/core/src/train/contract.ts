/**
 * The training contract every method fits: a dataset of examples, an Objective that turns a step's
 * examples into rows (once per optimizer step: TRL's `_prepare_inputs`, where GRPO generates and
 * scores) and computes loss, gradients and metrics per micro-batch, a StepPlan that the trainer and
 * the learning-rate schedule both read, and the Trainer that runs it.
 *
 * Metrics follow TRL: each micro-batch reports the means of its rows (e.g. `rewards/chosen`), and the
 * trainer logs, per key, the mean of those values over every micro-batch since the last log; an
 * evaluation logs `eval_<key>` = the mean over its batches. `loss` is the mean of the step losses
 * since the last log and `eval_loss` = total loss / total items over the evaluation set.
 */
import type { TrainingArguments } from "./args.js";
import type { TokenizedExample } from "./examples.js";
import type { Rng } from "../util/rng.js";
import { warmupStepsFor } from "./schedule.js";

/** Training examples of a method (token rows, preference pairs, prompts, ...). */
export const TrainDataset = Symbol.for("ortrl.TrainDataset");
export interface TrainDataset<E = TokenizedExample> {
  readonly examples: readonly E[];
}

/** Held-out examples (optional binding). */
export const EvalDataset = Symbol.for("ortrl.EvalDataset");
export type EvalDataset<E = TokenizedExample> = TrainDataset<E>;

/** Named scalar metrics, keys spelled as TRL logs them (`rewards/chosen`, `logps/rejected`, ...). */
export type Metrics = Record<string, number>;

/** Result of one micro-batch forward/backward. */
export interface MicroStepResult {
  /** Sum of the micro-batch's item losses (tokens for causal LM, pairs for DPO). */
  lossSum: number;
  /** Items in the micro-batch (the denominators of `lossSum`). */
  count: number;
  /** d(lossSum / numItemsInBatch)/d(tensor) per trainable tensor (summed over micro-batches by the trainer). */
  grads: Map<string, Float32Array>;
  /** This micro-batch's metrics (means over its rows, as TRL computes them). */
  metrics?: Metrics;
  /** Non-padding input tokens processed (for num_tokens and tokens/s); default 0. */
  numTokens?: number;
}

/** Result of one evaluation batch. */
export interface EvalStepResult {
  lossSum: number;
  count: number;
  metrics?: Metrics;
}

/** What `prepareStep` returns: the rows of the step and metrics of the preparation (rewards, lengths, ...). */
export interface PreparedStep<R> {
  rows: R[];
  metrics?: Metrics;
  /** Input tokens of the preparation (e.g. prompt + completion of every sample), counted once for num_tokens instead of the micro-steps' counts. */
  numTokens?: number;
}

/** Where the trainer is when it asks for a step's rows. */
export interface StepContext {
  /** The optimizer step being prepared (1-based). */
  step: number;
  /** Fractional epoch at the end of this step. */
  epoch: number;
  /** This step's random stream (seeded by run seed and step: a resumed run draws the same numbers). */
  rng: Rng;
}

/** Passed to `Objective.setup` once per run, before anything is trained or restored. */
export interface SetupContext {
  args: TrainingArguments;
  /** The run resumes from a checkpoint (its weights are restored after setup). */
  resuming: boolean;
  /** Every training example and every held-out one (empty without eval data). */
  train: readonly unknown[];
  eval: readonly unknown[];
  /** Aborts the run (Ctrl-C): long setups should stop early (the trainer then returns `stopped`). */
  signal?: AbortSignal;
}

/**
 * A method's differentiable objective.
 * @typeParam E dataset example; @typeParam R row fed to micro-steps (E unless `prepareStep` maps them).
 */
export const Objective = Symbol.for("ortrl.Objective");
export interface Objective<E = TokenizedExample, R = E> {
  /** The loss is a mean token negative log-likelihood: evaluation then logs perplexity = exp(eval_loss). */
  readonly tokenNll?: boolean;
  /**
   * Once per run, before the first step and before a checkpoint's weights are restored (the policy
   * holds its starting weights): e.g. precomputing reference log-probs.
   */
  setup?(ctx: SetupContext): Promise<void>;
  /** Turns one optimizer step's examples into rows (default: the examples themselves). */
  prepareStep?(examples: readonly E[], ctx: StepContext): Promise<PreparedStep<R>>;
  /** Items a row contributes to the loss normalisation (label tokens, pairs, ...). */
  countItems(row: R): number;
  /**
   * Forward and backward of one micro-batch. `numItemsInBatch` = items of the whole optimizer step,
   * so summing the micro-batches' gradients gives the gradient of the step's mean loss.
   */
  microStep(rows: readonly R[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult>;
  /** Loss (and metrics) of held-out examples, without gradients. */
  evalStep(examples: readonly E[]): Promise<EvalStepResult>;
}

/** How many optimizer steps a run takes and how many examples each one reads. Read by the trainer and the LR schedule. */
export const StepPlan = Symbol.for("ortrl.StepPlan");
export interface StepPlan {
  /** Examples selected per preparation (perDeviceTrainBatchSize * gradientAccumulationSteps by default). */
  examplesPerStep: number;
  /**
   * Optimizer steps taken on one preparation's rows (GRPO's num_iterations; default 1): `prepareStep`
   * runs at steps 1, 1 + k, 1 + 2k, ... and its rows are reused for the k steps.
   */
  stepsPerPreparation: number;
  /** Optimizer steps per pass over the examples. */
  stepsPerEpoch: number;
  maxSteps: number;
  numEpochs: number;
  /** Learning-rate warm-up steps. */
  warmupSteps: number;
}

/**
 * transformers' arithmetic: steps per epoch = ceil(examples / examplesPerStep) x stepsPerPreparation
 * (the last preparation of an epoch may be short), maxSteps >= 0 overrides epochs (0: evalOnStart only), warm-up =
 * warmupSteps or ceil(warmupRatio * maxSteps).
 * @throws Error for an empty dataset.
 */
export function planSteps(
  numExamples: number,
  args: TrainingArguments,
  examplesPerStep = args.perDeviceTrainBatchSize * args.gradientAccumulationSteps,
  stepsPerPreparation = 1,
): StepPlan {
  if (numExamples === 0) throw new Error("training dataset is empty");
  const stepsPerEpoch = Math.ceil(numExamples / examplesPerStep) * stepsPerPreparation;
  const maxSteps = args.maxSteps >= 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * stepsPerEpoch);
  const warmupSteps = warmupStepsFor(maxSteps, args.warmupSteps, args.warmupRatio);
  return { examplesPerStep, stepsPerPreparation, stepsPerEpoch, maxSteps, numEpochs: Math.ceil(maxSteps / stepsPerEpoch), warmupSteps };
}

/**
 * What `Trainer.run` returns. The camelCase fields are for code; `metrics` is the result as serialized (the
 * train_end event's metrics and the CLI's result line): `global_step`, `train_loss`, `train_runtime`,
 * `train_samples_per_second`, `train_steps_per_second`, `num_tokens`, `epoch` (TRL's TrainOutput.metrics).
 */
export interface TrainResult {
  globalStep: number;
  /** Mean of the step losses of this run. */
  trainLoss: number;
  logHistory: Record<string, number>[];
  /** Metrics of the last evaluation, if any. */
  evalMetrics: Record<string, number> | null;
  /** True when the run was aborted before maxSteps (a checkpoint of the last step was saved). */
  stopped: boolean;
  /** The same numbers under TRL's keys (see above): serialize this, not the camelCase fields. */
  metrics: Readonly<Record<string, number>>;
}

/** Runs an Objective over a dataset: resume, accumulate, clip, step, log, evaluate, save. */
export const Trainer = Symbol.for("ortrl.Trainer");
export interface Trainer {
  /**
   * Trains until maxSteps, or until `signal` aborts (checked between optimizer steps: the run then
   * saves a checkpoint of the last completed step and returns with `stopped: true`).
   */
  run(opts?: { signal?: AbortSignal }): Promise<TrainResult>;
  /** Evaluates the held-out examples with the current weights: `eval_loss`, `eval_<metric>`, ... */
  evaluate(): Promise<Record<string, number>>;
  /** Checks, before anything is written, that the checkpoint to resume (if any) belongs to this run. */
  checkResume?(): void;
}
