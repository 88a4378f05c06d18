/**
 * ORPO configuration: every training argument plus TRL's ORPOConfig fields, camelCased, declared once
 * in {@link ORPO_SCHEMA} (the type, defaults, validation messages, config-file keys and CLI flags all
 * come from that declaration). Defaults are TRL's ORPOConfig: learning_rate 1e-6, beta 0.1 (the
 * paper's λ), max_length 1024, max_prompt_length 512, logging_steps 10 (the training default).
 */
import { type ConfigOf, type FieldNaming, ConfigSchema, TRAINING_CHECKS, TRAINING_FIELDS, intField, nullable, numberField, stringListField, textField, withField } from "@ortrl/core";

export const ORPO_FIELDS = {
  ...TRAINING_FIELDS,
  learningRate: withField(TRAINING_FIELDS.learningRate, { default: 1e-6 }),
  dataFiles: stringListField([], "preference pairs {prompt, chosen, rejected} (strings or message lists): JSON Lines, a JSON array, CSV or Parquet, gzip or not", { min: 1, what: "training file" }, { flag: "data", placeholder: "file..." }),
  evalDataFiles: stringListField([], "held-out preference pairs (same formats) for eval_loss and eval_rewards/*", {}, { flag: "eval-data", placeholder: "file..." }),
  evalHoldout: numberField(0, "hold out this fraction of the training pairs (the last ones) for evaluation", { min: 0, lt: 1 }, { placeholder: "f" }),
  beta: numberField(0.1, "weight λ of the odds-ratio term: loss = NLL(chosen) + beta * -log sigmoid(log odds ratio) (Hong et al. 2024, eq. 6)", { gt: 0 }, { placeholder: "b" }),
  maxLength: intField(1024, "longest prompt + completion in tokens (capped at max_position_embeddings)", { min: 2 }, { aliases: ["maxSeqLength"], placeholder: "t" }),
  maxPromptLength: intField(512, "longest prompt in tokens when a pair is too long; the prompt keeps its end (and its BOS)", { min: 1 }, { placeholder: "t" }),
  chatTemplate: nullable(textField("", "a Jinja chat template or the path of a .jinja file for conversational pairs, instead of the tokenizer's", { nonEmpty: "must be a Jinja template or a .jinja file path" }, { placeholder: "file" })),
};

export type OrpoConfig = ConfigOf<typeof ORPO_FIELDS>;

export const ORPO_SCHEMA = new ConfigSchema(ORPO_FIELDS, [
  ...TRAINING_CHECKS,
  (c, name) => (c.maxPromptLength >= c.maxLength ? ["maxPromptLength", `must be less than ${name("maxLength")} (${c.maxLength}) to leave room for the completions, got ${c.maxPromptLength}`] : null),
]);

export const ORPO_DEFAULTS: Omit<OrpoConfig, "outputDir"> = (({ outputDir: _o, ...d }) => d)(ORPO_SCHEMA.defaults);

/**
 * Fills defaults and validates.
 * @param naming how messages name a field: "key" (camelCase, code), "snake" (a config file's key) or "flag".
 * @throws ConfigError "source: field message" for an invalid value (e.g. `orpo config: beta must be > 0, got 0`),
 *   an unknown key, no training file, or maxPromptLength >= maxLength.
 */
export function resolveOrpoConfig(partial: Partial<OrpoConfig> & { outputDir: string }, source = "orpo config", naming: FieldNaming = "key"): OrpoConfig {
  return ORPO_SCHEMA.resolve(partial, source, naming);
}
