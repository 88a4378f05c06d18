/**
 * SFT datasets: records read from JSONL, JSON-array, CSV or Parquet files, formats detected per record, tokenized
 * (see sft-tokenize.ts), truncated to the row length, optionally packed.
 *
 * A record left with no scored token after masking and truncation (e.g. a prompt longer than the row
 * length under completion-only loss) is skipped and counted in `stats.skipped` (and reported once with
 * `process.emitWarning`); a dataset in which no record has a scored token is an error, never a
 * silent no-op (TRL users hit that as "assistant-only loss trains on nothing").
 */
import { DataError, type TokenizedExample, type TokenizerLike, type TrainDataset, countLabelTokens, dropEmptyRecords, readRecords, recordUnit } from "@ortrl/core";
import { packExamples } from "./packing.js";
import { type SftFormat, type SftRecord, type SourcedRecord, detectRecord } from "./sft-formats.js";
import { type SftTokenizeOptions, tokenizeSftRecord, truncateExample } from "./sft-tokenize.js";

/**
 * Reads and detects every record of one file (format by content: JSONL, a JSON array, CSV, Parquet;
 * gzip or not). Records whose text is empty (language-modeling text, or the completion / Alpaca
 * output) are skipped and counted in one warning, as every command does.
 * @throws DataError naming the file and record for malformed input or a record that fits no format, an
 *   empty file, or a file whose records are all empty.
 */
export function readSftRecords(path: string, textField = "text"): SourcedRecord[] {
  const recs = readRecords(path);
  if (recs.length === 0) throw new DataError(path, 0, "no records");
  const detected = recs.map((r) => ({ file: path, line: r.line, record: detectRecord(path, r, textField) }));
  return dropEmptyRecords(path, detected, (r) => emptySftField(r.record, textField), recordUnit(recs));
}

/** The name of an SFT record's empty text field (the text, the completion, Alpaca's output), or undefined. */
export function emptySftField(r: SftRecord, textField = "text"): string | undefined {
  if (r.format === "language_modeling") return r.text.trim() ? undefined : textField;
  if (r.format === "prompt_completion" || r.format === "alpaca") return r.completion.trim() ? undefined : r.format === "alpaca" ? "output" : "completion";
  return undefined;
}

export { holdOutRecords } from "@ortrl/core";

export interface SftBuildOptions extends SftTokenizeOptions {
  /** Row length in tokens (truncation, and packing's row size). */
  maxLength: number;
  packing: boolean;
}

/** What building a dataset did. */
export interface SftDatasetStats {
  /** Records read. */
  records: number;
  /** Records per detected format. */
  formats: Partial<Record<SftFormat, number>>;
  /** Records cut to maxLength. */
  truncated: number;
  /** Records dropped because no token of theirs is scored. */
  skipped: number;
  /** Rows produced (fewer than the kept records when packed). */
  rows: number;
  /** Scored tokens in all rows. */
  labelTokens: number;
}

export interface SftDataset extends TrainDataset {
  readonly stats: SftDatasetStats;
}

/**
 * Tokenizes, truncates, drops unscored records and (optionally) packs.
 * @param what "training" or "evaluation", for messages.
 * @throws DataError naming the file and record when a record cannot be tokenized (no chat template,
 *   a template error, assistant-only loss on a non-conversational record); Error naming the files when
 *   no record has a scored token.
 */
export function buildSftDataset(tok: TokenizerLike, records: readonly SourcedRecord[], opts: SftBuildOptions, what = "training"): SftDataset {
  const stats: SftDatasetStats = { records: records.length, formats: {}, truncated: 0, skipped: 0, rows: 0, labelTokens: 0 };
  const kept: TokenizedExample[] = [];
  for (const r of records) {
    stats.formats[r.record.format] = (stats.formats[r.record.format] ?? 0) + 1;
    let e: TokenizedExample;
    try {
      e = tokenizeSftRecord(tok, r.record, opts);
    } catch (err) {
      throw new DataError(r.file, r.line, (err as Error).message);
    }
    if (e.inputIds.length > opts.maxLength) {
      stats.truncated++;
      e = truncateExample(e, opts.maxLength);
    }
    if (countLabelTokens(e) === 0) {
      stats.skipped++;
      continue;
    }
    kept.push(e);
  }
  const files = [...new Set(records.map((r) => r.file))].join(", ");
  if (kept.length === 0) {
    throw new Error(
      `${files}: no ${what} record has a token to train on after loss masking and truncation to ${opts.maxLength} tokens ` +
        `(${stats.skipped} of ${stats.records} records fully masked); check --completion-only-loss / --assistant-only-loss and --max-seq-length`,
    );
  }
  if (stats.skipped > 0) {
    process.emitWarning(`${files}: skipped ${stats.skipped} of ${stats.records} ${what} records with no token to train on after loss masking and truncation to ${opts.maxLength} tokens`, { code: "ORTRL_SFT_SKIPPED" });
  }
  const examples = opts.packing ? packExamples(kept, opts.maxLength) : kept;
  stats.rows = examples.length;
  stats.labelTokens = examples.reduce((n, e) => n + countLabelTokens(e), 0);
  return { examples, stats };
}

export { loadChatTemplate } from "@ortrl/core";
