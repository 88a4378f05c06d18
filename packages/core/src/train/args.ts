/**
 * Training arguments shared by every method: transformers.TrainingArguments / TRL names, camelCased,
 * with transformers' defaults unless stated (TRL's logging_steps 10). Declared once in
 * {@link TRAINING_SCHEMA}; the type, defaults, validation, config-file keys and CLI flags come from it.
 */
import { type ConfigOf, ConfigSchema, type CrossCheck } from "../config/schema.js";
import { boolField, enumField, intField, nullable, numberField, textField } from "../config/fields.js";

export const LR_SCHEDULER_TYPES = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

export const TRAINING_FIELDS = {
  outputDir: textField("", "where checkpoints, metrics.jsonl and the final model go", { nonEmpty: "is required" }, { placeholder: "dir" }),
  learningRate: numberField(5e-5, "peak learning rate (methods set their own default, e.g. SFT 2e-5, DPO 1e-6)", { min: 0 }),
  embeddingLearningRate: nullable(numberField(0, "learning rate of embed_tokens / lm_head (Unsloth's CPT recipe); unset = learningRate", { min: 0 })),
  numTrainEpochs: numberField(3, "passes over the training data; ignored when maxSteps > 0", { gt: 0 }, { placeholder: "e" }),
  maxSteps: intField(-1, "total optimizer steps; -1 = derived from numTrainEpochs; 0 (with evalOnStart) = evaluate the starting model only", { min: 0, max: 1e9, orMinusOne: true }),
  perDeviceTrainBatchSize: intField(8, "rows per micro-batch", { min: 1 }, { placeholder: "b" }),
  perDeviceEvalBatchSize: intField(8, "rows per evaluation batch", { min: 1 }, { placeholder: "b" }),
  gradientAccumulationSteps: intField(1, "micro-batches per optimizer step", { min: 1 }, { placeholder: "g" }),
  lrSchedulerType: enumField(LR_SCHEDULER_TYPES, "linear", "learning-rate schedule"),
  warmupSteps: intField(0, "warm-up steps; when 0, ceil(warmupRatio * total steps)", { min: 0 }),
  warmupRatio: numberField(0, "warm-up as a fraction of all steps", { min: 0, lt: 1 }, { placeholder: "r" }),
  weightDecay: numberField(0, "decoupled weight decay (not on biases and norm weights, as transformers)", { min: 0 }, { placeholder: "w" }),
  adamBeta1: numberField(0.9, "AdamW beta1", { min: 0, lt: 1 }),
  adamBeta2: numberField(0.999, "AdamW beta2", { min: 0, lt: 1 }),
  adamEpsilon: numberField(1e-8, "AdamW epsilon", { min: 0 }),
  optim: enumField(["adamw_torch", "sgd"] as const, "adamw_torch", "optimizer"),
  sgdMomentum: numberField(0, "momentum of optim sgd", { min: 0, lt: 1 }),
  maxGradNorm: numberField(1, "global-norm gradient clipping threshold (0 = off)", { min: 0 }),
  loggingSteps: intField(10, "log every N optimizer steps", { min: 1 }),
  evalOnStart: boolField(false, "evaluate the eval data before the first step (logged at step 0); a run resumed from a checkpoint does not repeat it"),
  evalSteps: nullable(intField(1, "evaluate every N steps when there is eval data; unset = only at the end", { min: 1 })),
  saveSteps: intField(500, "save a checkpoint every N steps (0 = only the final model)", { min: 0 }),
  saveTotalLimit: nullable(intField(1, "keep at most N checkpoints (oldest deleted after the new one is complete); unset = all", { min: 1 })),
  seed: intField(42, "seed of data order, new adapters' initialisation, dropout and sampling", { min: 0, max: 2 ** 32 - 1 }),
  resumeFromCheckpoint: nullable(textField("", "checkpoint directory (outputDir/checkpoint-N) to continue from", { nonEmpty: "must be a checkpoint directory" }, { placeholder: "dir" })),
  shuffle: boolField(true, "shuffle the training examples every epoch"),
  saveMerged: boolField(false, "LoRA runs: after the final adapter, also write the model with the adapter merged (float32 Hugging Face model directory) into outputDir/merged"),
  generateEvery: nullable(intField(1, "every N optimizer steps (and at the end), greedily complete each prompt of generatePrompts with the current weights into outputDir/samples.jsonl", { min: 1 })),
  generatePrompts: nullable(textField("", "prompts for generateEvery: JSONL records with a \"prompt\" field, or a .txt file with one prompt per line; without generateEvery, sampled at the end only", { nonEmpty: "must be a file" }, { placeholder: "file" })),
  generateMaxNewTokens: intField(64, "new tokens per sample of generatePrompts at most", { min: 1 }),
  acceptChangedArgs: boolField(false, "when resuming, accept a checkpoint whose run had other logging, evaluation or save cadence or run length (max_steps); other differences are always refused"),
};

/**
 * Rules across the training fields, for every method's schema (`new ConfigSchema(fields, [...TRAINING_CHECKS, ...])`):
 * maxSteps 0 trains nothing, so it is allowed only with evalOnStart (evaluate the starting model, write no model);
 * generateEvery needs generatePrompts.
 */
export const TRAINING_CHECKS: readonly CrossCheck<Pick<TrainingArguments, "maxSteps" | "evalOnStart" | "generateEvery" | "generatePrompts">>[] = [
  (c, name) => (c.maxSteps === 0 && !c.evalOnStart ? ["maxSteps", `must be a positive integer or -1, or 0 together with ${name("evalOnStart")} (evaluate only), got 0`] : null),
  (c, name) => (c.generateEvery != null && c.generatePrompts == null ? ["generateEvery", `needs ${name("generatePrompts")} (the prompts to complete)`] : null),
];

export const TRAINING_SCHEMA = new ConfigSchema(TRAINING_FIELDS, TRAINING_CHECKS);

export type TrainingArguments = ConfigOf<typeof TRAINING_FIELDS>;

export const TRAINING_DEFAULTS: Omit<TrainingArguments, "outputDir"> = (() => {
  const { outputDir: _unused, ...rest } = TRAINING_SCHEMA.defaults;
  return Object.freeze(rest) as Omit<TrainingArguments, "outputDir">;
})();

/**
 * Fills defaults and validates every field.
 * @param defaults a method's own defaults (e.g. SFT's learning rate); fields it does not name keep
 *   the common defaults.
 * @throws ConfigError "source: field message" naming the first invalid field.
 */
export function resolveTrainingArgs(
  partial: Partial<TrainingArguments> & { outputDir: string },
  source = "training arguments",
  defaults: Partial<Omit<TrainingArguments, "outputDir">> = TRAINING_DEFAULTS,
): TrainingArguments {
  const known = Object.fromEntries(Object.entries(partial).filter(([k]) => k in TRAINING_FIELDS));
  const own = Object.fromEntries(Object.entries(defaults).filter(([k]) => k in TRAINING_FIELDS));
  return TRAINING_SCHEMA.withDefaults(own).resolve(known, source);
}
