/**
 * Preference data: records read from JSONL, JSON-array, CSV or Parquet files (gzip or not; the content
 * decides), formats detected per record (TRL's preference dataset types, plus LLaMA-Factory's ShareGPT ranking form):
 *
 * | format                          | record                                                                      |
 * |---------------------------------|-----------------------------------------------------------------------------|
 * | standard                        | `{prompt, chosen, rejected}` (strings; the course's format)                 |
 * | conversational                  | `{prompt, chosen, rejected}` (message lists)                                |
 * | implicit_prompt                 | `{chosen, rejected}` (strings: prompt = their longest common prefix)        |
 * | conversational_implicit_prompt  | `{chosen, rejected}` (message lists: prompt = their common leading messages)|
 * | sharegpt                        | `{conversations: [{from, value}], chosen: {from, value}, rejected: {...}}`  |
 *
 * Tokenization (TRL's DPOTrainer.tokenize_row, with ortrl's BOS rule): prompt = BOS (when the
 * tokenizer's own encoding adds one and the prompt does not already start with it; TRL >= 0.12 adds
 * none for decoder-only models, ortrl keeps the BOS the model was pretrained with) + tokens(prompt);
 * each completion = tokens(completion, no special tokens) + EOS (unless it already ends with EOS).
 * Conversational pairs are rendered with the chat template: prompt = template(prompt, add_generation_prompt),
 * completion = template(prompt + completion) minus the rendered prompt.
 *
 * Truncation (TRL): the prompt keeps its last maxPromptLength tokens (and its BOS); each completion
 * keeps its first maxCompletionLength tokens, then its first maxLength - prompt tokens. Pairs whose
 * chosen and rejected completions are identical (no preference signal), or that are all prompt after
 * truncation, are skipped and counted in one warning; a file where nothing is left is an error.
 * Pairs with an empty (or whitespace-only) chosen or rejected text are skipped when read, counted in
 * one warning per file (dropEmptyRecords: the rule of every command).
 */
import { type ChatMessage, DataError, type JsonlRecord, type TokenizerLike, type TrainDataset, dropEmptyRecords, isBlank, kindOf as kind, messageList, readRecords, recordUnit } from "@ortrl/core";

export type DpoFormat = "standard" | "conversational" | "implicit_prompt" | "conversational_implicit_prompt" | "sharegpt";

/** A detected pair: text or message lists. */
export type PreferencePair =
  | { format: "standard" | "implicit_prompt"; prompt: string; chosen: string; rejected: string }
  | { format: "conversational" | "conversational_implicit_prompt" | "sharegpt"; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };

/** A detected pair and where it came from. */
export interface SourcedPair {
  file: string;
  /** 1-based line (JSONL, CSV), record index (JSON array) or row (Parquet). */
  line: number;
  /** "record N" / "row N" where `line` is not a file line. */
  where?: string;
  pair: PreferencePair;
}

/** A tokenized preference pair: the training example of DPO. */
export interface DpoExample {
  /** BOS (as the model expects) + prompt tokens. */
  promptIds: number[];
  /** Chosen completion tokens + EOS. */
  chosenIds: number[];
  /** Rejected completion tokens + EOS. */
  rejectedIds: number[];
}

const EXPECTED =
  "expected {prompt, chosen, rejected} (strings or message lists), {chosen, rejected} (implicit prompt) or {conversations, chosen, rejected} (ShareGPT ranking)";

// ------------------------------------------------------------------------------------------------
// Reading and detection
// ------------------------------------------------------------------------------------------------

/**
 * Reads and detects every record of one file (format by content; gzip decompressed). Pairs whose chosen
 * or rejected text is empty are skipped with one counted warning.
 * @throws DataError naming the file and record for malformed input, a record fitting no format, a
 *   missing field, an empty file, or a file whose pairs are all empty.
 */
export function readPreferenceRecords(path: string): SourcedPair[] {
  const recs = readRecords(path);
  if (recs.length === 0) throw new DataError(path, 0, "no records");
  const pairs = recs.map((r) => ({ file: path, line: r.line, where: r.where, pair: detectPair(path, r), empty: emptyPairField(r.record) }));
  return dropEmptyRecords(path, pairs, (p) => p.empty, recordUnit(recs)).map(({ empty: _, ...p }) => p);
}

/** "chosen" or "rejected" when that text of a record is empty (a string, or a ShareGPT turn's value), else undefined. */
export function emptyPairField(r: Record<string, unknown>): string | undefined {
  const text = (v: unknown) => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>).value : v);
  return (["chosen", "rejected"] as const).find((k) => isBlank(text(r[k])));
}

/**
 * Detects the format of one record (empty texts are kept; readPreferenceRecords skips them).
 * @throws DataError naming the file, the record and the field.
 */
export function detectPair(file: string, rec: JsonlRecord): PreferencePair {
  const r = rec.record;
  const where = rec.where ?? "record";
  const fail = (msg: string): never => {
    throw new DataError(file, rec.line, `${where}${msg.startsWith("fits") || msg.startsWith("has") ? " " : ": "}${msg}`);
  };
  const has = (k: string) => r[k] !== undefined;
  if (!has("chosen") && !has("rejected")) {
    const seen = Object.keys(r);
    return fail(`fits no preference format (fields seen: ${seen.length ? seen.join(", ") : "none"}); ${EXPECTED}`);
  }
  for (const k of ["chosen", "rejected"]) if (!has(k)) fail(`has no '${k}' field`);

  if (has("conversations")) {
    const turn = (k: "chosen" | "rejected"): ChatMessage[] => {
      const v = r[k] as Record<string, unknown>;
      if (typeof v !== "object" || v === null || Array.isArray(v) || typeof v.value !== "string") fail(`field '${k}' must be a {from, value} turn, got ${kind(v)}`);
      return [{ role: shareGptRole(v.from ?? "gpt", `${k}.from`, fail), content: v.value as string }];
    };
    if (!Array.isArray(r.conversations) || r.conversations.length === 0) fail("field 'conversations' must be a non-empty list of {from, value} turns");
    const prompt = (r.conversations as unknown[]).map((t, i) => {
      const o = t as Record<string, unknown>;
      if (typeof o !== "object" || o === null || typeof o.value !== "string") fail(`conversations[${i}] must be a {from, value} turn`);
      return { role: shareGptRole(o.from, `conversations[${i}].from`, fail), content: o.value as string };
    });
    return { format: "sharegpt", prompt, chosen: turn("chosen"), rejected: turn("rejected") };
  }

  const chosen = r.chosen;
  const rejected = r.rejected;
  if (typeof chosen === "string" || typeof rejected === "string") {
    for (const [k, v] of [["chosen", chosen], ["rejected", rejected]] as const) {
      if (typeof v !== "string") fail(`'chosen' and 'rejected' must both be strings or both be message lists, got ${kind(chosen)} and ${kind(rejected)}`);
    }
    if (has("prompt")) {
      if (typeof r.prompt !== "string") fail(`field 'prompt' must be a string like 'chosen' and 'rejected', got ${kind(r.prompt)}`);
      return { format: "standard", prompt: r.prompt as string, chosen: chosen as string, rejected: rejected as string };
    }
    return { format: "implicit_prompt", ...splitCommonPrefix(chosen as string, rejected as string) };
  }
  const c = messageList(chosen, "chosen", fail);
  const j = messageList(rejected, "rejected", fail);
  if (has("prompt")) return { format: "conversational", prompt: messageList(r.prompt, "prompt", fail), chosen: c, rejected: j };
  let k = 0;
  while (k < c.length - 1 && k < j.length - 1 && c[k]!.role === j[k]!.role && c[k]!.content === j[k]!.content) k++;
  if (k === 0) fail("'chosen' and 'rejected' share no leading messages to use as the prompt (add a 'prompt' field)");
  return { format: "conversational_implicit_prompt", prompt: c.slice(0, k), chosen: c.slice(k), rejected: j.slice(k) };
}

/**
 * TRL's implicit prompt: the longest common prefix of the two texts, moved back to the last
 * whitespace inside it so no word (or token) is split between prompt and completion; the completions
 * keep that whitespace (e.g. hh-rlhf: prompt "...\n\nAssistant:", completion " Sure, ...").
 */
export function splitCommonPrefix(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } {
  let n = 0;
  while (n < chosen.length && n < rejected.length && chosen[n] === rejected[n]) n++;
  if (n < chosen.length || n < rejected.length) {
    let k = n;
    while (k > 0 && !/\s/.test(chosen[k - 1]!)) k--;
    // Cut before the whitespace run that precedes the differing word.
    while (k > 0 && /\s/.test(chosen[k - 1]!)) k--;
    if (k > 0) n = k;
  }
  return { prompt: chosen.slice(0, n), chosen: chosen.slice(n), rejected: rejected.slice(n) };
}

const SHAREGPT_ROLES: Record<string, string> = { human: "user", user: "user", gpt: "assistant", assistant: "assistant", system: "system" };

function shareGptRole(from: unknown, field: string, fail: (m: string) => never): string {
  const role = typeof from === "string" ? SHAREGPT_ROLES[from] : undefined;
  if (!role) fail(`${field} must be one of human, gpt, system (or user, assistant), got ${JSON.stringify(from)}`);
  return role!;
}

// ------------------------------------------------------------------------------------------------
// Tokenization and truncation
// ------------------------------------------------------------------------------------------------

export interface DpoTokenizeOptions {
  /** Chat template for conversational pairs (null = the tokenizer's). */
  chatTemplate: string | null;
}

/**
 * Tokenizes a pair (see the file comment for the rules).
 * @throws Error when a conversational pair needs a chat template and there is none, or the template
 *   renders the prompt differently inside the full conversation.
 */
export function tokenizePair(tok: TokenizerLike, pair: PreferencePair, opts: DpoTokenizeOptions): DpoExample {
  let prompt: string;
  let chosen: string;
  let rejected: string;
  if (pair.format === "standard" || pair.format === "implicit_prompt") {
    ({ prompt, chosen, rejected } = pair);
  } else {
    const conv = pair as Extract<PreferencePair, { prompt: ChatMessage[] }>;
    const tpl = opts.chatTemplate ?? undefined;
    if (!tpl && !tok.chatTemplate) throw new Error("conversational pair but the tokenizer has no chat_template; pass --chat-template FILE.jinja");
    const rendered = tok.applyChatTemplate(conv.prompt, { addGenerationPrompt: true, chatTemplate: tpl });
    prompt = rendered;
    const completion = (msgs: ChatMessage[], which: string) => {
      const full = tok.applyChatTemplate([...conv.prompt, ...msgs], { chatTemplate: tpl });
      if (!full.startsWith(rendered)) throw new Error(`the chat template renders the prompt differently inside the full ${which} conversation; cannot split prompt and completion`);
      return full.slice(rendered.length);
    };
    chosen = completion(conv.chosen, "chosen");
    rejected = completion(conv.rejected, "rejected");
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

export interface DpoTruncation {
  /** Prompt + completion, tokens. */
  maxLength: number;
  maxPromptLength: number | null;
  maxCompletionLength: number | null;
}

/** Applies the truncation rules; returns the pair and whether anything was cut. */
export function truncatePair(e: DpoExample, t: DpoTruncation, bosTokenId: number | null): { example: DpoExample; truncated: boolean } {
  let promptIds = e.promptIds;
  let truncated = false;
  if (t.maxPromptLength !== null && promptIds.length > t.maxPromptLength) {
    const keepBos = bosTokenId !== null && promptIds[0] === bosTokenId && t.maxPromptLength > 1;
    promptIds = keepBos ? [bosTokenId, ...promptIds.slice(promptIds.length - (t.maxPromptLength - 1))] : promptIds.slice(promptIds.length - t.maxPromptLength);
    truncated = true;
  }
  const room = Math.max(0, Math.min(t.maxCompletionLength ?? Infinity, t.maxLength - promptIds.length));
  const cut = (ids: number[]) => {
    if (ids.length <= room) return ids;
    truncated = true;
    return ids.slice(0, room);
  };
  return { example: { promptIds, chosenIds: cut(e.chosenIds), rejectedIds: cut(e.rejectedIds) }, truncated };
}

// ------------------------------------------------------------------------------------------------
// Datasets
// ------------------------------------------------------------------------------------------------

/** What building a dataset did. */
export interface DpoDatasetStats {
  records: number;
  formats: Partial<Record<DpoFormat, number>>;
  /** Pairs cut by maxPromptLength / maxCompletionLength / maxLength. */
  truncated: number;
  /** Pairs skipped: chosen and rejected completions identical. */
  identical: number;
  /** Pairs skipped: completions that differ only past the truncation point. */
  identicalAfterTruncation: number;
  /** Pairs skipped: no completion token left after truncation. */
  allPrompt: number;
  /** Pairs kept. */
  pairs: number;
}

export interface DpoDataset extends TrainDataset<DpoExample> {
  readonly stats: DpoDatasetStats;
}

export interface DpoBuildOptions extends DpoTokenizeOptions, DpoTruncation {}

/**
 * Tokenizes, truncates and filters pairs.
 * @param what "training" or "evaluation", for messages.
 * @throws DataError naming the file and record when a pair cannot be tokenized; Error naming the
 *   files when no pair is left.
 */
export function buildDpoDataset(tok: TokenizerLike, records: readonly SourcedPair[], opts: DpoBuildOptions, what = "training"): DpoDataset {
  const stats: DpoDatasetStats = { records: records.length, formats: {}, truncated: 0, identical: 0, identicalAfterTruncation: 0, allPrompt: 0, pairs: 0 };
  const examples: DpoExample[] = [];
  for (const r of records) {
    stats.formats[r.pair.format] = (stats.formats[r.pair.format] ?? 0) + 1;
    let e: DpoExample;
    try {
      e = tokenizePair(tok, r.pair, opts);
    } catch (err) {
      const where = r.where ? `${r.where}: ` : "";
      throw new DataError(r.file, r.line, `${where}${(err as Error).message}`);
    }
    if (sameIds(e.chosenIds, e.rejectedIds)) {
      stats.identical++;
      continue;
    }
    const t = truncatePair(e, opts, tok.bosTokenId);
    if (t.truncated) stats.truncated++;
    if (t.example.chosenIds.length === 0 || t.example.rejectedIds.length === 0) {
      stats.allPrompt++;
      continue;
    }
    if (sameIds(t.example.chosenIds, t.example.rejectedIds)) {
      stats.identicalAfterTruncation++;
      continue;
    }
    examples.push(t.example);
  }
  stats.pairs = examples.length;
  const files = [...new Set(records.map((r) => r.file))].join(", ");
  const limits = `maxLength ${opts.maxLength}, maxPromptLength ${opts.maxPromptLength ?? "unset"}`;
  const why = `${stats.identical} with identical chosen and rejected completions, ${stats.identicalAfterTruncation} identical after truncation, ${stats.allPrompt} with no completion token left after truncation to ${limits}`;
  if (examples.length === 0) throw new Error(`${files}: no ${what} pair is left (${why}, of ${stats.records})`);
  const skipped = stats.identical + stats.identicalAfterTruncation + stats.allPrompt;
  if (skipped > 0) process.emitWarning(`${files}: skipped ${skipped} of ${stats.records} ${what} pairs (${why})`, { code: "ORTRL_DPO_SKIPPED" });
  if (stats.truncated > 0) process.emitWarning(`${files}: truncated ${stats.truncated} of ${stats.records} ${what} pairs to ${limits}`, { code: "ORTRL_DPO_TRUNCATED" });
  return { examples, stats };
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
