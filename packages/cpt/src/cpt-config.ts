/**
 * Continued-pretraining (CPT) configuration: the common training arguments plus the data fields.
 * Defaults follow transformers' TrainingArguments; CPT-specific ones follow TRL's SFTConfig for
 * language-modeling data (packing on, concatenate-then-chunk as TRL's packing_strategy "wrapped").
 */
import { type TrainingArguments, TRAINING_DEFAULTS, resolveTrainingArgs } from "@ortrl/core";

export interface CptConfig extends TrainingArguments {
  /** Training files: `.txt` (raw text, one document per file) or JSONL `{"text": ...}` (one document per record). */
  dataFiles: string[];
  /** Held-out files (same formats); evaluated for eval_loss / perplexity. */
  evalDataFiles: string[];
  /** Fraction of the training text held out for evaluation (the tail of each file); 0 = none. */
  evalHoldout: number;
  /** Tokens per training block (packing) or per truncated document (TRL max_length; default 1024). */
  maxSeqLength: number;
  /** Concatenate documents (EOS between them) and cut into maxSeqLength blocks (default true). */
  packing: boolean;
}

export const CPT_DEFAULTS: Omit<CptConfig, "outputDir"> = {
  ...TRAINING_DEFAULTS,
  dataFiles: [],
  evalDataFiles: [],
  evalHoldout: 0,
  maxSeqLength: 1024,
  packing: true,
};

/**
 * Fills defaults and validates.
 * @throws Error naming `source` and the field for invalid values or no training data.
 */
export function resolveCptConfig(partial: Partial<CptConfig> & { outputDir: string }, source = "cpt config"): CptConfig {
  const base = resolveTrainingArgs(partial, source, CPT_DEFAULTS);
  const c: CptConfig = { ...CPT_DEFAULTS, ...base, ...definedOnly(partial) } as CptConfig;
  if (!Array.isArray(c.dataFiles) || c.dataFiles.length === 0) throw new Error(`${source}: dataFiles must list at least one training file`);
  if (!Number.isInteger(c.maxSeqLength) || c.maxSeqLength < 2) throw new Error(`${source}: maxSeqLength must be an integer >= 2, got ${c.maxSeqLength}`);
  if (!(c.evalHoldout >= 0 && c.evalHoldout < 1)) throw new Error(`${source}: evalHoldout must be in [0, 1), got ${c.evalHoldout}`);
  return c;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
