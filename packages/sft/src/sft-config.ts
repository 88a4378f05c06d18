/**
 * Supervised fine-tuning (SFT) configuration: the common training arguments plus TRL's SFTConfig
 * data fields, camelCased, declared once in {@link SFT_SCHEMA}. Defaults follow TRL's SFTConfig
 * (learning rate 2e-5, max_length 1024, packing off, completion_only_loss None = automatic,
 * assistant_only_loss off, dataset_text_field "text"). LoRA is not part of this config: it is a Policy
 * concern (pass a LoraConfig to `CausalLmPolicy.fromPretrained`).
 */
import {
  type ConfigOf,
  type FieldNaming,
  ConfigSchema,
  TRAINING_CHECKS,
  TRAINING_FIELDS,
  boolField,
  intField,
  nullable,
  nullableBoolField,
  numberField,
  stringListField,
  textField,
  withField,
} from "@ortrl/core";

export const SFT_FIELDS = {
  ...TRAINING_FIELDS,
  learningRate: withField(TRAINING_FIELDS.learningRate, { default: 2e-5 }),
  dataFiles: stringListField([], "training files: JSONL (one record per line) or a .json array; formats detected per record", { min: 1, what: "training file" }, { flag: "data", placeholder: "file..." }),
  evalDataFiles: stringListField([], "held-out files (same formats), scored with the same loss masking", {}, { flag: "eval-data", placeholder: "file..." }),
  evalHoldout: numberField(0, "hold out this fraction of the training records (the last ones) for evaluation", { min: 0, lt: 1 }, { placeholder: "f" }),
  maxSeqLength: intField(1024, "longest row in tokens (TRL max_length); longer examples are cut at the end; capped at max_position_embeddings", { min: 2 }, { aliases: ["maxLength"], placeholder: "t" }),
  packing: boolField(false, "pack examples into maxSeqLength rows (best-fit decreasing; samples do not attend to each other)"),
  completionOnlyLoss: nullableBoolField("score only completions of prompt-completion / Alpaca records (unset = on for those, TRL's None)"),
  assistantOnlyLoss: boolField(false, "score only assistant turns (and the turn-ending token) of conversational records"),
  chatTemplate: nullable(textField("", "a Jinja chat template or the path of a .jinja file, instead of the tokenizer's", { nonEmpty: "must be a Jinja template or a .jinja file path" }, { aliases: ["chatTemplatePath"], placeholder: "file" })),
  datasetTextField: textField("text", "field holding the text of language-modeling records", { nonEmpty: "must be a non-empty field name" }, { placeholder: "name" }),
};

export const SFT_SCHEMA = new ConfigSchema(SFT_FIELDS, TRAINING_CHECKS);

export type SftConfig = ConfigOf<typeof SFT_FIELDS>;

export const SFT_DEFAULTS: Omit<SftConfig, "outputDir"> = (({ outputDir: _o, ...d }) => d)(SFT_SCHEMA.defaults);

/**
 * Fills defaults and validates.
 * @throws ConfigError naming `source` and the field for an invalid value or no training data.
 */
export function resolveSftConfig(partial: Partial<SftConfig> & { outputDir: string }, source = "sft config", naming: FieldNaming = "key"): SftConfig {
  return SFT_SCHEMA.resolve(partial, source, naming);
}
