/**
 * Continued-pretraining (CPT) configuration: the common training arguments plus the data fields,
 * declared once in {@link CPT_SCHEMA}. Defaults follow transformers' TrainingArguments; CPT-specific
 * ones follow TRL's SFTConfig for language-modeling data (packing on, concatenate-then-chunk as TRL's
 * packing_strategy "wrapped").
 */
import { type ConfigOf, type FieldNaming, ConfigSchema, TRAINING_CHECKS, TRAINING_FIELDS, boolField, intField, numberField, stringListField } from "@ortrl/core";

export const CPT_FIELDS = {
  ...TRAINING_FIELDS,
  dataFiles: stringListField([], "training files: .txt (one document per file) or JSONL {\"text\"} (one document per record)", { min: 1, what: "training file" }, { flag: "data", placeholder: "file..." }),
  evalDataFiles: stringListField([], "held-out files (same formats) for eval_loss / perplexity", {}, { flag: "eval-data", placeholder: "file..." }),
  evalHoldout: numberField(0, "hold out this fraction of the training text (the tail of each file) for evaluation", { min: 0, lt: 1 }, { placeholder: "f" }),
  maxSeqLength: intField(1024, "tokens per packed block, or per truncated document (TRL max_length); capped at max_position_embeddings", { min: 2 }, { placeholder: "t" }),
  packing: boolField(true, "concatenate documents (EOS between them) and cut into maxSeqLength blocks; --no-packing truncates documents instead"),
};

export const CPT_SCHEMA = new ConfigSchema(CPT_FIELDS, TRAINING_CHECKS);

export type CptConfig = ConfigOf<typeof CPT_FIELDS>;

export const CPT_DEFAULTS: Omit<CptConfig, "outputDir"> = (({ outputDir: _o, ...d }) => d)(CPT_SCHEMA.defaults);

/**
 * Fills defaults and validates.
 * @throws ConfigError naming `source` and the field for invalid values or no training data.
 */
export function resolveCptConfig(partial: Partial<CptConfig> & { outputDir: string }, source = "cpt config", naming: FieldNaming = "key"): CptConfig {
  return CPT_SCHEMA.resolve(partial, source, naming);
}
