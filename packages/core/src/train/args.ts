/**
 * Training arguments shared by every method: transformers.TrainingArguments / TRL names, camelCased,
 * with transformers' defaults unless stated.
 */
export type LrSchedulerType = "linear" | "cosine" | "constant" | "constant_with_warmup";

export interface TrainingArguments {
  /** Where checkpoints, metrics.jsonl and the final model go. */
  outputDir: string;
  /** Peak learning rate (default 5e-5; method plugins override, e.g. SFT 2e-5). */
  learningRate: number;
  /** Learning rate of embed_tokens / lm_head when set (Unsloth's CPT recipe); null = learningRate. */
  embeddingLearningRate: number | null;
  /** Passes over the training data (default 3); ignored when maxSteps > 0. */
  numTrainEpochs: number;
  /** Total optimizer steps; -1 = derived from numTrainEpochs. */
  maxSteps: number;
  /** Rows per micro-batch (default 8). */
  perDeviceTrainBatchSize: number;
  /** Rows per evaluation batch (default 8). */
  perDeviceEvalBatchSize: number;
  /** Micro-batches per optimizer step (default 1). */
  gradientAccumulationSteps: number;
  lrSchedulerType: LrSchedulerType;
  /** Warm-up steps; when 0, ceil(warmupRatio * total steps). */
  warmupSteps: number;
  warmupRatio: number;
  /** Decoupled weight decay (not applied to biases and norm weights, as transformers). */
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** Optimizer: "adamw_torch" (default) or "sgd". */
  optim: "adamw_torch" | "sgd";
  /** Momentum for optim "sgd". */
  sgdMomentum: number;
  /** Global-norm gradient clipping threshold; 0 disables (default 1.0). */
  maxGradNorm: number;
  /** Log every N optimizer steps (TRL default 10). */
  loggingSteps: number;
  /** Evaluate every N steps when eval data is given; null = only at the end. */
  evalSteps: number | null;
  /** Save a checkpoint every N steps (default 500); 0 = only the final model. */
  saveSteps: number;
  /** Keep at most this many checkpoints (oldest deleted); null = all. */
  saveTotalLimit: number | null;
  /** Seed of data order, initialisation of new adapters and dropout. */
  seed: number;
  /** Checkpoint directory to resume from, or null. */
  resumeFromCheckpoint: string | null;
  /** Shuffle training examples every epoch (default true). */
  shuffle: boolean;
}

export const TRAINING_DEFAULTS: Omit<TrainingArguments, "outputDir"> = {
  learningRate: 5e-5,
  embeddingLearningRate: null,
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  lrSchedulerType: "linear",
  warmupSteps: 0,
  warmupRatio: 0,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  optim: "adamw_torch",
  sgdMomentum: 0,
  maxGradNorm: 1,
  loggingSteps: 10,
  evalSteps: null,
  saveSteps: 500,
  saveTotalLimit: null,
  seed: 42,
  resumeFromCheckpoint: null,
  shuffle: true,
};

const SCHEDULES: readonly LrSchedulerType[] = ["linear", "cosine", "constant", "constant_with_warmup"];

/**
 * Fills defaults and validates every field.
 * @throws Error naming the field (and `source`, e.g. a config file) for an invalid value.
 */
export function resolveTrainingArgs(partial: Partial<TrainingArguments> & { outputDir: string }, source = "training arguments", defaults = TRAINING_DEFAULTS): TrainingArguments {
  const a: TrainingArguments = { ...defaults, ...stripUndefined(partial) } as TrainingArguments;
  const bad = (field: string, msg: string): never => {
    throw new Error(`${source}: ${field} ${msg}`);
  };
  if (!a.outputDir) bad("outputDir", "is required");
  const positiveInt = (k: keyof TrainingArguments) => {
    const v = a[k] as number;
    if (!Number.isInteger(v) || v < 1) bad(String(k), `must be a positive integer, got ${v}`);
  };
  positiveInt("perDeviceTrainBatchSize");
  positiveInt("perDeviceEvalBatchSize");
  positiveInt("gradientAccumulationSteps");
  positiveInt("loggingSteps");
  if (!(a.learningRate >= 0)) bad("learningRate", `must be >= 0, got ${a.learningRate}`);
  if (a.embeddingLearningRate !== null && !(a.embeddingLearningRate >= 0)) bad("embeddingLearningRate", `must be >= 0, got ${a.embeddingLearningRate}`);
  if (!(a.numTrainEpochs > 0)) bad("numTrainEpochs", `must be > 0, got ${a.numTrainEpochs}`);
  if (!Number.isInteger(a.maxSteps) || (a.maxSteps < 1 && a.maxSteps !== -1)) bad("maxSteps", `must be a positive integer or -1, got ${a.maxSteps}`);
  if (!SCHEDULES.includes(a.lrSchedulerType)) bad("lrSchedulerType", `must be one of ${SCHEDULES.join(", ")}, got ${a.lrSchedulerType}`);
  if (!Number.isInteger(a.warmupSteps) || a.warmupSteps < 0) bad("warmupSteps", `must be a non-negative integer, got ${a.warmupSteps}`);
  if (!(a.warmupRatio >= 0 && a.warmupRatio < 1)) bad("warmupRatio", `must be in [0, 1), got ${a.warmupRatio}`);
  if (!(a.weightDecay >= 0)) bad("weightDecay", `must be >= 0, got ${a.weightDecay}`);
  if (!(a.maxGradNorm >= 0)) bad("maxGradNorm", `must be >= 0, got ${a.maxGradNorm}`);
  if (a.optim !== "adamw_torch" && a.optim !== "sgd") bad("optim", `must be adamw_torch or sgd, got ${a.optim}`);
  if (!(a.adamBeta1 >= 0 && a.adamBeta1 < 1)) bad("adamBeta1", `must be in [0, 1), got ${a.adamBeta1}`);
  if (!(a.adamBeta2 >= 0 && a.adamBeta2 < 1)) bad("adamBeta2", `must be in [0, 1), got ${a.adamBeta2}`);
  if (!(a.adamEpsilon >= 0)) bad("adamEpsilon", `must be >= 0, got ${a.adamEpsilon}`);
  if (!(a.sgdMomentum >= 0 && a.sgdMomentum < 1)) bad("sgdMomentum", `must be in [0, 1), got ${a.sgdMomentum}`);
  if (a.evalSteps !== null) positiveInt("evalSteps");
  if (!Number.isInteger(a.saveSteps) || a.saveSteps < 0) bad("saveSteps", `must be a non-negative integer, got ${a.saveSteps}`);
  if (a.saveTotalLimit !== null) positiveInt("saveTotalLimit");
  if (!Number.isInteger(a.seed)) bad("seed", `must be an integer, got ${a.seed}`);
  return a;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
