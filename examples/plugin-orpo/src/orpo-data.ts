/**
 * ORPO's preference data: records read with core's `readRecords` (JSON Lines, a JSON array, CSV or
 * Parquet, gzip or not; the content decides), in TRL's two explicit-prompt preference formats:
 *
 * | format         | record                                                   |
 * |----------------|----------------------------------------------------------|
 * | standard       | `{prompt, chosen, rejected}`, three strings              |
 * | conversational | `{prompt, chosen, rejected}`, three `{role, content}` lists |
 *
 * Tokenization (TRL's ORPOTrainer.tokenize_row, with ortrl's BOS rule as in @ortrl/dpo): prompt = BOS
 * (when the tokenizer's own encoding adds one and the prompt does not start with it) + tokens(prompt);
 * each completion = tokens(completion, no special tokens) + EOS (unless it already ends with EOS).
 * Conversational pairs are rendered with the chat template: prompt = template(prompt, generation
 * prompt), completion = template(prompt + completion) minus the rendered prompt.
 *
 * Truncation (TRL's ORPO rule): when prompt + the longer completion exceed maxLength, the prompt keeps
 * its last maxPromptLength tokens (and its BOS, where TRL's keep_end drops it); if that is still too
 * long, each completion keeps its first maxLength - maxPromptLength tokens.
 *
 * A record whose chosen or rejected text is empty or whitespace is skipped and counted in one warning
 * per file (core's `dropEmptyRecords`, the rule of every ortrl command); a record that lacks a field,
 * has one of the wrong type, or has no prompt is a DataError naming the file, the line and the field.
 */
import { type ChatMessage, DataError, type JsonlRecord, type TokenizerLike, type TrainDataset, dropEmptyRecords, isBlank, kindOf, messageList, readRecords, recordUnit } from "@ortrl/core";

/** A detected pair: three strings, or three message lists. */
export type OrpoPair =
  | { format: "standard"; prompt: string; chosen: string; rejected: string }
  | { format: "conversational"; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };

/** A detected pair and where it came from. */
export interface SourcedOrpoPair {
  file: string;
  /** 1-based line (JSON Lines, CSV), record index (JSON array) or row (Parquet). */
  line: number;
  /** "record N" / "row N" where `line` is not a file line. */
  where?: string;
  pair: OrpoPair;
}

/** A tokenized preference pair: the training example of ORPO (token ids, integers in [0, vocab)). */
export interface OrpoExample {
  /** BOS (as the model expects) + prompt tokens; at least one token. */
  promptIds: number[];
  /** Chosen completion tokens + EOS; at least one token. */
  chosenIds: number[];
  /** Rejected completion tokens + EOS; at least one token. */
  rejectedIds: number[];
}

const EXPECTED = "expected {prompt, chosen, rejected}: three strings or three {role, content} message lists";

// ------------------------------------------------------------------------------------------------
// Reading and detection
// ------------------------------------------------------------------------------------------------

/**
 * Reads and detects every record of one file. Pairs with an empty chosen or rejected text are skipped
 * with one counted warning (code ORTRL_EMPTY_RECORDS).
 * @throws DataError naming the file (and line or record) for malformed input, an empty file, a record
 *   that fits no format or lacks a field, or a file whose pairs are all empty.
 */
export function readOrpoRecords(path: string): SourcedOrpoPair[] {
  const recs = readRecords(path);
  if (recs.length === 0) throw new DataError(path, 0, "no records");
  const pairs = recs.map((r) => ({ file: path, line: r.line, where: r.where, pair: detectOrpoPair(path, r), empty: emptyField(r.record) }));
  return dropEmptyRecords(path, pairs, (p) => p.empty, recordUnit(recs)).map(({ empty: _, ...p }) => p);
}

/** "chosen" or "rejected" when that text of a record is empty or whitespace, else undefined. */
function emptyField(r: Record<string, unknown>): string | undefined {
  return (["chosen", "rejected"] as const).find((k) => isBlank(r[k]));
}

/**
 * Detects the format of one record (empty texts are kept; readOrpoRecords skips them).
 * @throws DataError `file:line: record has no 'rejected' field; expected ...` and the like, naming
 *   the file, the record and the field.
 */
export function detectOrpoPair(file: string, rec: JsonlRecord): OrpoPair {
  const r = rec.record;
  const where = rec.where ?? "record";
  const fail = (msg: string): never => {
    throw new DataError(file, rec.line, `${where}${msg.startsWith("has") || msg.startsWith("fits") ? " " : ": "}${msg}`);
  };
  const missing = ["prompt", "chosen", "rejected"].filter((k) => r[k] === undefined);
  if (missing.length === 3) {
    const seen = Object.keys(r);
    fail(`fits no preference format (fields seen: ${seen.length ? seen.join(", ") : "none"}); ${EXPECTED}`);
  }
  if (missing.length) fail(`has no '${missing[0]}' field; ${EXPECTED}`);
  const { prompt, chosen, rejected } = r;
  if (typeof prompt === "string" || typeof chosen === "string" || typeof rejected === "string") {
    for (const [k, v] of [["prompt", prompt], ["chosen", chosen], ["rejected", rejected]] as const) {
      if (typeof v !== "string") fail(`field '${k}' must be a string like the other two, got ${kindOf(v)}; ${EXPECTED}`);
    }
    return { format: "standard", prompt: prompt as string, chosen: chosen as string, rejected: rejected as string };
  }
  const list = (v: unknown, k: string) => messageList(v, k, fail);
  return { format: "conversational", prompt: list(prompt, "prompt"), chosen: list(chosen, "chosen"), rejected: list(rejected, "rejected") };
}

// ------------------------------------------------------------------------------------------------
// Tokenization and truncation
// ------------------------------------------------------------------------------------------------

/**
 * Tokenizes a pair (see the file comment for the rules).
 * @param chatTemplate the template for conversational pairs (null = the tokenizer's).
 * @throws Error when a conversational pair needs a chat template and there is none, or the template
 *   renders the prompt differently inside the full conversation.
 */
export function tokenizeOrpoPair(tok: TokenizerLike, pair: OrpoPair, chatTemplate: string | null): OrpoExample {
  let prompt: string;
  let chosen: string;
  let rejected: string;
  if (pair.format === "standard") {
    ({ prompt, chosen, rejected } = pair);
  } else {
    const tpl = chatTemplate ?? undefined;
    if (!tpl && !tok.chatTemplate) throw new Error("conversational pair but the tokenizer has no chat_template; set chatTemplate (a Jinja template or a .jinja file)");
    prompt = tok.applyChatTemplate(pair.prompt, { addGenerationPrompt: true, chatTemplate: tpl });
    const completion = (msgs: ChatMessage[], which: string) => {
      const full = tok.applyChatTemplate([...pair.prompt, ...msgs], { chatTemplate: tpl });
      if (!full.startsWith(prompt)) throw new Error(`the chat template renders the prompt differently inside the full ${which} conversation; cannot split prompt and completion`);
      return full.slice(prompt.length);
    };
    chosen = completion(pair.chosen, "chosen");
    rejected = completion(pair.rejected, "rejected");
  }
  const promptIds = tok.encode(prompt, { addSpecialTokens: false });
  if (tok.addBosToken && tok.bosTokenId !== null && promptIds[0] !== tok.bosTokenId) promptIds.unshift(tok.bosTokenId);
  const completionIds = (text: string) => {
    const ids = tok.encode(text, { addSpecialTokens: false });
    if (tok.eosTokenId !== null && ids.at(-1) !== tok.eosTokenId) ids.push(tok.eosTokenId);
    return ids;
  };
  return { promptIds, chosenIds: completionIds(chosen), rejectedIds: completionIds(rejected) };
}

/** Token limits of a pair (maxPromptLength < maxLength). */
export interface OrpoTruncation {
  /** Prompt + completion, tokens. */
  maxLength: number;
  maxPromptLength: number;
}

/** Applies TRL's ORPO truncation (see the file comment); returns the pair and whether anything was cut. */
export function truncateOrpoPair(e: OrpoExample, t: OrpoTruncation, bosTokenId: number | null): { example: OrpoExample; truncated: boolean } {
  const longer = Math.max(e.chosenIds.length, e.rejectedIds.length);
  let promptIds = e.promptIds;
  let truncated = false;
  if (promptIds.length + longer > t.maxLength && promptIds.length > t.maxPromptLength) {
    const keepBos = bosTokenId !== null && promptIds[0] === bosTokenId && t.maxPromptLength > 1;
    promptIds = keepBos ? [bosTokenId, ...promptIds.slice(promptIds.length - (t.maxPromptLength - 1))] : promptIds.slice(promptIds.length - t.maxPromptLength);
    truncated = true;
  }
  if (promptIds.length + longer <= t.maxLength) return { example: { ...e, promptIds }, truncated };
  const room = t.maxLength - t.maxPromptLength;
  return { example: { promptIds, chosenIds: e.chosenIds.slice(0, room), rejectedIds: e.rejectedIds.slice(0, room) }, truncated: true };
}

// ------------------------------------------------------------------------------------------------
// Datasets
// ------------------------------------------------------------------------------------------------

/** What building a dataset did. */
export interface OrpoDatasetStats {
  records: number;
  /** Pairs cut by maxPromptLength / maxLength. */
  truncated: number;
  /** Pairs skipped: a completion with no token at all (a tokenizer without EOS and an empty encoding). */
  noCompletion: number;
  /** Pairs kept. */
  pairs: number;
}

export interface OrpoDataset extends TrainDataset<OrpoExample> {
  readonly stats: OrpoDatasetStats;
}

export interface OrpoBuildOptions extends OrpoTruncation {
  /** Chat template for conversational pairs (null = the tokenizer's). */
  chatTemplate: string | null;
}

/**
 * Tokenizes and truncates pairs; warns (ORTRL_ORPO_TRUNCATED, ORTRL_ORPO_SKIPPED) with counts.
 * @param what "training" or "evaluation", for messages.
 * @throws DataError naming the file and record when a pair cannot be tokenized; Error naming the
 *   files when no pair is left.
 */
export function buildOrpoDataset(tok: TokenizerLike, records: readonly SourcedOrpoPair[], opts: OrpoBuildOptions, what = "training"): OrpoDataset {
  const stats: OrpoDatasetStats = { records: records.length, truncated: 0, noCompletion: 0, pairs: 0 };
  const examples: OrpoExample[] = [];
  for (const r of records) {
    let e: OrpoExample;
    try {
      e = tokenizeOrpoPair(tok, r.pair, opts.chatTemplate);
    } catch (err) {
      throw new DataError(r.file, r.line, `${r.where ? `${r.where}: ` : ""}${(err as Error).message}`);
    }
    if (e.chosenIds.length === 0 || e.rejectedIds.length === 0) {
      stats.noCompletion++;
      continue;
    }
    const t = truncateOrpoPair(e, opts, tok.bosTokenId);
    if (t.truncated) stats.truncated++;
    examples.push(t.example);
  }
  stats.pairs = examples.length;
  const files = [...new Set(records.map((r) => r.file))].join(", ");
  if (examples.length === 0) throw new Error(`${files}: no ${what} pair is left (${stats.noCompletion} of ${stats.records} have a completion with no token)`);
  if (stats.noCompletion) process.emitWarning(`${files}: skipped ${stats.noCompletion} of ${stats.records} ${what} pairs whose completion has no token`, { code: "ORTRL_ORPO_SKIPPED" });
  if (stats.truncated) {
    process.emitWarning(`${files}: truncated ${stats.truncated} of ${stats.records} ${what} pairs to maxLength ${opts.maxLength}, maxPromptLength ${opts.maxPromptLength}`, { code: "ORTRL_ORPO_TRUNCATED" });
  }
  return { examples, stats };
}
