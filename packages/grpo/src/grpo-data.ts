/**
 * GRPO prompts: records read from JSONL, JSON-array, CSV or Parquet files (gzip or not; the content
 * decides), formats detected per record:
 *
 * | format         | record                                   | prompt column |
 * |----------------|------------------------------------------|---------------|
 * | prompt         | `{prompt: string, ...}`                  | prompt        |
 * | conversational | `{prompt: [{role, content}, ...], ...}`  | prompt        |
 * | query          | `{query, ...}` (the course's `{query, answer}`) | query  |
 * | question       | `{question, ...}` (GSM8K `{question, answer}` with `#### N`) | question |
 *
 * Every other field is a column that reaches the reward functions under its own name (e.g. `answer`).
 * Prompts are tokenized as BOS (when the tokenizer adds one and the prompt does not start with it) +
 * tokens; conversational prompts are rendered with the chat template and a generation prompt. A prompt
 * longer than maxPromptLength keeps its end (and its BOS), as TRL truncates prompts from the left.
 */
import { type ChatMessage, DataError, type JsonlRecord, type TokenizerLike, type TrainDataset, dropEmptyRecords, isBlank, kindOf, messageList, readRecords, recordUnit } from "@ortrl/core";

export type GrpoFormat = "prompt" | "conversational" | "query" | "question";

/** A prompt record, detected. */
export interface PromptRecord {
  file: string;
  /** 1-based line (JSONL) or record index (JSON array). */
  line: number;
  format: GrpoFormat;
  prompt: string | ChatMessage[];
  /** Every field but the prompt's. */
  columns: Record<string, unknown>;
}

/** A tokenized prompt: the training example of GRPO. */
export interface GrpoExample {
  /** BOS (as the model expects) + prompt tokens, truncated to maxPromptLength from the left. */
  promptIds: number[];
  /** The prompt as the reward functions see it: text, or the message list of a conversational prompt. */
  prompt: string | ChatMessage[];
  /** The record's other fields. */
  columns: Record<string, unknown>;
  /** The prompt is a message list: completions reach reward functions as `[{ role: "assistant", content }]`. */
  conversational: boolean;
}

const EXPECTED = "expected {prompt} (a string or a message list), {query, ...} or {question, ...}";

/**
 * Reads and detects every record of one file. Records whose prompt text is empty (or only whitespace)
 * are skipped with one counted warning (dropEmptyRecords: the rule of every command).
 * @throws DataError naming the file and record for malformed input, a record fitting no format, an
 *   empty file, or a file whose prompts are all empty.
 */
export function readPromptRecords(path: string): PromptRecord[] {
  const recs = readRecords(path);
  if (recs.length === 0) throw new DataError(path, 0, "no records");
  const prompts = recs.map((r) => detectPrompt(path, r));
  return dropEmptyRecords(path, prompts, (p) => (isBlank(p.prompt) ? p.format : undefined), recordUnit(recs));
}

/**
 * Detects the format of one record (an empty prompt is kept; readPromptRecords skips it).
 * @throws DataError naming the file, the record and the field.
 */
export function detectPrompt(file: string, rec: JsonlRecord): PromptRecord {
  const r = rec.record;
  const where = rec.where ?? "record";
  const fail = (msg: string): never => {
    throw new DataError(file, rec.line, `${where}${msg.startsWith("fits") ? " " : ": "}${msg}`);
  };
  const field = (["prompt", "query", "question"] as const).find((k) => r[k] !== undefined);
  if (!field) {
    const seen = Object.keys(r);
    return fail(`fits no prompt format (fields seen: ${seen.length ? seen.join(", ") : "none"}); ${EXPECTED}`);
  }
  const { [field]: value, ...columns } = r;
  if (field === "prompt" && Array.isArray(value)) return { file, line: rec.line, format: "conversational", prompt: messageList(value, "prompt", fail), columns };
  if (typeof value !== "string") fail(`field '${field}' must be a string${field === "prompt" ? " or a message list" : ""}, got ${kindOf(value)}`);
  return { file, line: rec.line, format: field, prompt: value as string, columns };
}

export interface GrpoBuildOptions {
  /** Chat template for conversational prompts (null = the tokenizer's). */
  chatTemplate: string | null;
  maxPromptLength: number | null;
  /** Where the limit comes from when it is not the configured one (for the warning). */
  why?: string;
}

export interface GrpoDatasetStats {
  records: number;
  formats: Partial<Record<GrpoFormat, number>>;
  /** Prompts cut to maxPromptLength. */
  truncated: number;
}

export interface GrpoDataset extends TrainDataset<GrpoExample> {
  readonly stats: GrpoDatasetStats;
}

/**
 * Tokenizes prompts (truncating from the left) and warns once with the number truncated.
 * @throws DataError naming the file and record when a conversational prompt has no chat template.
 */
export function buildGrpoDataset(tok: TokenizerLike, records: readonly PromptRecord[], opts: GrpoBuildOptions, what = "training"): GrpoDataset {
  const stats: GrpoDatasetStats = { records: records.length, formats: {}, truncated: 0 };
  const examples = records.map((r): GrpoExample => {
    stats.formats[r.format] = (stats.formats[r.format] ?? 0) + 1;
    let text: string;
    if (typeof r.prompt === "string") text = r.prompt;
    else {
      if (!opts.chatTemplate && !tok.chatTemplate) throw new DataError(r.file, r.line, "conversational prompt but the tokenizer has no chat_template; pass --chat-template FILE.jinja");
      try {
        text = tok.applyChatTemplate(r.prompt, { addGenerationPrompt: true, chatTemplate: opts.chatTemplate ?? undefined });
      } catch (e) {
        throw new DataError(r.file, r.line, (e as Error).message);
      }
    }
    let ids = tok.encode(text, { addSpecialTokens: false });
    if (tok.addBosToken && tok.bosTokenId !== null && ids[0] !== tok.bosTokenId) ids.unshift(tok.bosTokenId);
    const max = opts.maxPromptLength;
    if (max !== null && ids.length > max) {
      stats.truncated++;
      const keepBos = tok.bosTokenId !== null && ids[0] === tok.bosTokenId && max > 1;
      ids = keepBos ? [tok.bosTokenId!, ...ids.slice(ids.length - (max - 1))] : ids.slice(ids.length - max);
    }
    return { promptIds: ids, prompt: r.prompt, columns: r.columns, conversational: typeof r.prompt !== "string" };
  });
  if (stats.truncated > 0) {
    const files = [...new Set(records.map((r) => r.file))].join(", ");
    process.emitWarning(`${files}: truncated ${stats.truncated} of ${stats.records} ${what} prompts to ${opts.maxPromptLength} tokens (kept their end)${opts.why ? `: ${opts.why}` : ""}`, { code: "ORTRL_GRPO_TRUNCATED" });
  }
  return { examples, stats };
}
