/**
 * GRPO configuration: every training argument plus TRL's GRPOConfig fields, camelCased, declared once
 * in {@link GRPO_SCHEMA}, with TRL's defaults: learning rate 1e-6, num_generations 8,
 * max_prompt_length 512, max_completion_length 256, temperature 1, top_p 1, top_k unset, beta 0 (no
 * reference model), epsilon 0.2, epsilon_high = epsilon, num_iterations 1, loss_type "dapo",
 * scale_rewards "group", mask_truncated_completions false, log_completions false.
 *
 * As in TRL, `perDeviceTrainBatchSize` counts COMPLETIONS: an optimizer step samples
 * perDeviceTrainBatchSize x gradientAccumulationSteps / numGenerations prompts, numGenerations each.
 */
import { z } from "zod";
import {
  type ConfigOf,
  type FieldNaming,
  ConfigSchema,
  type FieldSpec,
  type NamedReward,
  type RewardFn,
  TRAINING_CHECKS,
  TRAINING_FIELDS,
  boolField,
  enumField,
  intField,
  nullable,
  numberField,
  show,
  stringListField,
  textField,
  withField,
} from "@ortrl/core";

export const GRPO_LOSS_TYPES = ["dapo", "grpo", "bnpo", "dr_grpo"] as const;
export type GrpoLossType = (typeof GRPO_LOSS_TYPES)[number];

/** A reward: a built-in name ("accuracy", "format"), "FILE:exportName", a function, or a named, weighted function. */
export type RewardSpec = string | RewardFn | NamedReward;

const rewardSpecs: FieldSpec<RewardSpec[]> = {
  type: z.preprocess(
    (v) => (v === undefined || Array.isArray(v) ? v : [v]),
    z.array(
      z.custom<RewardSpec>((v) => (typeof v === "string" && v.length > 0) || typeof v === "function" || (typeof v === "object" && v !== null && typeof (v as NamedReward).fn === "function" && typeof (v as NamedReward).name === "string"), {
        error: (i) => `entries must be a built-in reward name, FILE:exportName, a function or {name, fn, weight}, got ${show(i.input)}`,
      }),
      { error: (i) => `must be a list of reward functions, got ${show(i.input)}` },
    ).min(1, { error: "must list at least one reward function (e.g. accuracy, or FILE.ts:exportName)" }),
  ) as unknown as z.ZodType<RewardSpec[]>,
  default: [],
  doc: "reward functions: built-in names (accuracy, format) or FILE:exportName (.ts, .mts, .js, .mjs; TypeScript loads without a build step)",
  arity: "list",
  fromString: (raw) => raw,
  placeholder: "spec...",
};

const numberList: FieldSpec<number[] | null> = {
  type: z
    .array(z.number({ error: (i) => `must be a number, got ${show(i.input)}` }).refine(Number.isFinite, { error: (i) => `must be a finite number, got ${show(i.input)}` }), {
      error: (i) => `must be a list of numbers, got ${show(i.input)}`,
    })
    .nullable() as z.ZodType<number[] | null>,
  default: null,
  doc: "weight of each reward function in the total reward (default 1 each)",
  arity: "list",
  fromString: (raw) => (raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw),
  placeholder: "w...",
};

export const GRPO_FIELDS = {
  ...TRAINING_FIELDS,
  learningRate: withField(TRAINING_FIELDS.learningRate, { default: 1e-6 }),
  perDeviceTrainBatchSize: withField(TRAINING_FIELDS.perDeviceTrainBatchSize, { doc: "completions per micro-batch (as TRL): a step samples this x gradientAccumulationSteps / numGenerations prompts" }),
  perDeviceEvalBatchSize: withField(TRAINING_FIELDS.perDeviceEvalBatchSize, { doc: "held-out prompts per evaluation batch (numGenerations completions each)" }),
  dataFiles: stringListField([], "prompts: JSONL (.jsonl, .jsonl.gz) or a .json array of {prompt}, {query, answer}, {question, answer} (GSM8K) or conversational prompts", { min: 1, what: "training file" }, { flag: "data", placeholder: "file..." }),
  evalDataFiles: stringListField([], "held-out prompts (same formats) for eval_reward and eval_loss", {}, { flag: "eval-data", placeholder: "file..." }),
  evalHoldout: numberField(0, "hold out this fraction of the training prompts (the last ones) for evaluation", { min: 0, lt: 1 }, { placeholder: "f" }),
  rewardFuncs: rewardSpecs,
  rewardWeights: numberList,
  numGenerations: intField(8, "completions sampled per prompt (the group of group-relative advantages)", { min: 2 }, { placeholder: "g" }),
  maxPromptLength: nullable(intField(1, "longest prompt in tokens; longer prompts keep their end (and BOS)", { min: 1 }), 512),
  maxCompletionLength: intField(256, "new tokens per completion at most", { min: 1 }),
  temperature: numberField(1, "sampling temperature of the rollouts; completions are also scored at it (logits / temperature, as TRL)", { gt: 0 }, { placeholder: "t" }),
  topP: numberField(1, "nucleus sampling mass of the rollouts", { gt: 0, max: 1 }, { placeholder: "p" }),
  topK: nullable(intField(1, "keep the k most likely tokens when sampling rollouts; unset = all", { min: 1 })),
  beta: numberField(0, "KL coefficient against the reference model (k3 estimator); 0 = no reference forward at all", { min: 0 }, { placeholder: "b" }),
  epsilon: numberField(0.2, "lower clipping range of the importance ratio: clip(ratio, 1 - epsilon, 1 + epsilonHigh)", { gt: 0, lt: 1 }, { placeholder: "e" }),
  epsilonHigh: nullable(numberField(0.2, "upper clipping range (DAPO's clip-higher); unset = epsilon", { gt: 0 }, { placeholder: "e" })),
  numIterations: intField(1, "optimizer steps per rollout (PPO-style reuse; old log-probs come from the rollout)", { min: 1 }),
  lossType: enumField(GRPO_LOSS_TYPES, "dapo", "token normalisation: dapo (tokens of the step), grpo (per sequence), bnpo (tokens of the micro-batch), dr_grpo (max_completion_length)"),
  scaleRewards: enumField(["group", "batch", "none"] as const, "group", "divide advantages by the std of the group, of the batch, or not at all (Dr. GRPO)"),
  maskTruncatedCompletions: boolField(false, "exclude completions that hit maxCompletionLength without EOS from the loss (DAPO)"),
  logCompletions: boolField(false, "also print a sample of each logged step's completions to stderr (completions.jsonl is always written)"),
  formatPattern: textField("^<think>[\\s\\S]*?</think>", "regular expression the built-in `format` reward requires the completion to match", { nonEmpty: "must be a regular expression" }, { placeholder: "regex" }),
  chatTemplate: nullable(textField("", "a Jinja chat template or the path of a .jinja file for conversational prompts, instead of the tokenizer's", { nonEmpty: "must be a Jinja template or a .jinja file path" }, { aliases: ["chatTemplatePath"], placeholder: "file" })),
};

export type GrpoConfig = ConfigOf<typeof GRPO_FIELDS>;

export const GRPO_SCHEMA = new ConfigSchema(GRPO_FIELDS, [
  ...TRAINING_CHECKS,
  (c, name) => {
    const n = c.perDeviceTrainBatchSize * c.gradientAccumulationSteps;
    return n % c.numGenerations === 0
      ? null
      : ["numGenerations", `(${c.numGenerations}) must divide the completions of a step, ${name("perDeviceTrainBatchSize")} x ${name("gradientAccumulationSteps")} = ${c.perDeviceTrainBatchSize} x ${c.gradientAccumulationSteps} = ${n}`];
  },
  (c) => (c.rewardWeights !== null && c.rewardWeights.length !== c.rewardFuncs.length ? ["rewardWeights", `must give one weight per reward function (${c.rewardFuncs.length}), got ${c.rewardWeights.length}`] : null),
  (c) => {
    try {
      new RegExp(c.formatPattern);
      return null;
    } catch (e) {
      return ["formatPattern", `is not a valid regular expression (${(e as Error).message})`];
    }
  },
]);

export const GRPO_DEFAULTS: Omit<GrpoConfig, "outputDir"> = (({ outputDir: _o, ...d }) => d)(GRPO_SCHEMA.defaults);

/**
 * Fills defaults and validates (including that numGenerations divides the completions of a step).
 * @throws ConfigError naming `source` and the field.
 */
export function resolveGrpoConfig(partial: Partial<GrpoConfig> & { outputDir: string }, source = "grpo config", naming: FieldNaming = "key"): GrpoConfig {
  return GRPO_SCHEMA.resolve(partial, source, naming);
}
