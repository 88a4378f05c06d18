/**
 * Supervised fine-tuning (SFT) configuration: the common training arguments plus TRL's SFTConfig
 * data fields, camelCased. Defaults follow TRL's SFTConfig (learning rate 2e-5, max_length 1024,
 * packing off, completion_only_loss None = automatic, assistant_only_loss off,
 * dataset_text_field "text"). LoRA is not part of this config: it is a Policy concern (pass a
 * LoraConfig to `CausalLmPolicy.fromPretrained`).
 */
import { type TrainingArguments, TRAINING_DEFAULTS, resolveTrainingArgs } from "@ortrl/core";

export interface SftConfig extends TrainingArguments {
  /** Training files: JSONL (one record per line) or a `.json` array of records; formats are detected per record (see sft-formats.ts). */
  dataFiles: string[];
  /** Held-out files (same formats), scored with the same loss masking as training. */
  evalDataFiles: string[];
  /** Fraction of the training records held out for evaluation (the last records, across all files in order); 0 = none. */
  evalHoldout: number;
  /**
   * Longest row in tokens (TRL `max_length`, default 1024). Longer examples are cut at the end
   * (TRL truncation_mode "keep_start"); rows are also capped at the model's max_position_embeddings.
   */
  maxSeqLength: number;
  /** Pack examples into rows of maxSeqLength (best-fit decreasing; samples do not attend to each other). Default false. */
  packing: boolean;
  /**
   * Score only the completion of prompt-completion / Alpaca records. null (default) = automatic:
   * on for prompt-completion data, which is TRL's `completion_only_loss=None`.
   */
  completionOnlyLoss: boolean | null;
  /** Score only assistant turns (and the turn-ending token the template emits after them) of conversational records. Default false. */
  assistantOnlyLoss: boolean;
  /** A Jinja chat template, or the path of a `.jinja` file, used instead of the tokenizer's own; null = the tokenizer's. */
  chatTemplate: string | null;
  /** Field holding the text of language-modeling records (default "text"). */
  datasetTextField: string;
}

export const SFT_DEFAULTS: Omit<SftConfig, "outputDir"> = {
  ...TRAINING_DEFAULTS,
  learningRate: 2e-5,
  dataFiles: [],
  evalDataFiles: [],
  evalHoldout: 0,
  maxSeqLength: 1024,
  packing: false,
  completionOnlyLoss: null,
  assistantOnlyLoss: false,
  chatTemplate: null,
  datasetTextField: "text",
};

/**
 * Fills defaults and validates.
 * @throws Error naming `source` and the field for an invalid value or no training data.
 */
export function resolveSftConfig(partial: Partial<SftConfig> & { outputDir: string }, source = "sft config"): SftConfig {
  const base = resolveTrainingArgs(partial, source, SFT_DEFAULTS);
  const c: SftConfig = { ...SFT_DEFAULTS, ...base, ...definedOnly(partial) } as SftConfig;
  const bad = (field: string, msg: string): never => {
    throw new Error(`${source}: ${field} ${msg}`);
  };
  const files = (field: "dataFiles" | "evalDataFiles") => {
    const v = c[field] as unknown;
    if (!Array.isArray(v) || v.some((f) => typeof f !== "string" || !f)) bad(field, "must be a list of file paths");
  };
  files("dataFiles");
  files("evalDataFiles");
  if (c.dataFiles.length === 0) bad("dataFiles", "must list at least one training file");
  if (!Number.isInteger(c.maxSeqLength) || c.maxSeqLength < 2) bad("maxSeqLength", `must be an integer >= 2, got ${c.maxSeqLength}`);
  if (typeof c.evalHoldout !== "number" || !(c.evalHoldout >= 0 && c.evalHoldout < 1)) bad("evalHoldout", `must be in [0, 1), got ${c.evalHoldout}`);
  if (typeof c.packing !== "boolean") bad("packing", `must be a boolean, got ${String(c.packing)}`);
  if (c.completionOnlyLoss !== null && typeof c.completionOnlyLoss !== "boolean") bad("completionOnlyLoss", `must be true, false or null, got ${String(c.completionOnlyLoss)}`);
  if (typeof c.assistantOnlyLoss !== "boolean") bad("assistantOnlyLoss", `must be a boolean, got ${String(c.assistantOnlyLoss)}`);
  if (c.chatTemplate !== null && (typeof c.chatTemplate !== "string" || !c.chatTemplate)) bad("chatTemplate", "must be a Jinja template, a .jinja file path or null");
  if (typeof c.datasetTextField !== "string" || !c.datasetTextField) bad("datasetTextField", "must be a non-empty field name");
  return c;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
