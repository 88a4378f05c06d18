/**
 * DPO configuration: every training argument plus TRL's DPOConfig fields, camelCased, declared once
 * in {@link DPO_SCHEMA}. Defaults are TRL's: learning rate 1e-6 (the course uses 5e-6), beta 0.1,
 * loss_type "sigmoid", label_smoothing 0, max_length 1024, max_prompt_length 512 (here: half of
 * max_length unless set), max_completion_length unset, precompute_ref_log_probs false, logging_steps 10.
 */
import {
  type ConfigOf,
  type FieldNaming,
  ConfigSchema,
  TRAINING_CHECKS,
  TRAINING_FIELDS,
  boolField,
  enumField,
  intField,
  nullable,
  numberField,
  stringListField,
  textField,
  withField,
} from "@ortrl/core";

export const DPO_LOSS_TYPES = ["sigmoid", "ipo", "hinge", "robust"] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

export const DPO_FIELDS = {
  ...TRAINING_FIELDS,
  learningRate: withField(TRAINING_FIELDS.learningRate, { default: 1e-6 }),
  dataFiles: stringListField([], "preference pairs: JSONL (.jsonl, .jsonl.gz) or a .json array; formats detected per record", { min: 1, what: "training file" }, { flag: "data", placeholder: "file..." }),
  evalDataFiles: stringListField([], "held-out preference pairs (same formats) for eval_loss and eval_rewards/*", {}, { flag: "eval-data", placeholder: "file..." }),
  evalHoldout: numberField(0, "hold out this fraction of the training pairs (the last ones) for evaluation", { min: 0, lt: 1 }, { placeholder: "f" }),
  beta: numberField(0.1, "temperature of the implicit reward beta * log(pi / pi_ref); higher stays closer to the reference", { gt: 0 }, { placeholder: "b" }),
  lossType: enumField(DPO_LOSS_TYPES, "sigmoid", "sigmoid (DPO), ipo (IPO, per-token average log-probs), hinge (SLiC) or robust (robust DPO)"),
  labelSmoothing: numberField(0, "assumed fraction of flipped labels: cDPO with sigmoid, robust DPO with robust", { min: 0, lt: 0.5 }, { placeholder: "e" }),
  precomputeRefLogProbs: boolField(false, "compute the reference log-probs once before training (kept in outputDir/reference_logps.safetensors) and hold no reference weights while training"),
  maxLength: intField(1024, "longest prompt + completion in tokens (capped at max_position_embeddings); completions are cut at the end", { min: 2 }, { aliases: ["maxSeqLength"], placeholder: "t" }),
  maxPromptLength: nullable(intField(1, "longest prompt in tokens; longer prompts keep their end (and BOS); unset = maxLength / 2 (TRL's 512 for the default maxLength)", { min: 1 })),
  maxCompletionLength: nullable(intField(1, "longest completion in tokens (cut at the end)", { min: 1 })),
  chatTemplate: nullable(textField("", "a Jinja chat template or the path of a .jinja file for conversational pairs, instead of the tokenizer's", { nonEmpty: "must be a Jinja template or a .jinja file path" }, { aliases: ["chatTemplatePath"], placeholder: "file" })),
};

export type DpoConfig = ConfigOf<typeof DPO_FIELDS>;

export const DPO_SCHEMA = new ConfigSchema(DPO_FIELDS, [
  ...TRAINING_CHECKS,
  (c, name) => (c.labelSmoothing > 0 && c.lossType !== "sigmoid" && c.lossType !== "robust" ? ["labelSmoothing", `applies to ${name("lossType")} sigmoid (cDPO) or robust only, not ${c.lossType}`] : null),
  (c, name) => (c.maxPromptLength !== null && c.maxPromptLength >= c.maxLength ? ["maxPromptLength", `must be less than ${name("maxLength")} (${c.maxLength}) to leave room for the completions, got ${c.maxPromptLength}`] : null),
]);

export const DPO_DEFAULTS: Omit<DpoConfig, "outputDir"> = (({ outputDir: _o, ...d }) => d)(DPO_SCHEMA.defaults);

/**
 * Fills defaults and validates.
 * @throws ConfigError naming `source` and the field for an invalid value or no training data.
 */
export function resolveDpoConfig(partial: Partial<DpoConfig> & { outputDir: string }, source = "dpo config", naming: FieldNaming = "key"): DpoConfig {
  return DPO_SCHEMA.resolve(partial, source, naming);
}
