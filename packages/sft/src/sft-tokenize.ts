/**
 * One SFT record to one tokenized example (input ids and labels, -100 = not scored), as TRL's
 * SFTTrainer prepares its dataset:
 *
 * - language modeling `{text}`: BOS (when the tokenizer config adds one) + text + EOS; every token scored.
 * - prompt-completion / Alpaca: BOS + tokens of prompt+completion (tokenized together, so the
 *   boundary is tokenized as the model will see it) + EOS. The prompt is the longest common token
 *   prefix of the prompt's own tokens and the joint tokens; with completion-only loss (automatic for
 *   this format) the prompt tokens get -100.
 * - conversational `{messages}`: the chat template's text, tokenized; every token scored, or with
 *   assistant-only loss the assistant turns only (see chat-masks.ts). No EOS is appended: the
 *   template emits its own turn and conversation endings (TRL does the same).
 * - conversational prompt-completion: render(prompt, add_generation_prompt) is the prompt,
 *   render(prompt + completion) the whole example.
 *
 * BOS: prepended when the tokenizer config adds one (`addBosToken`), unless the text already
 * tokenized to a leading BOS (e.g. a chat template that emits `{{ bos_token }}`), so it is never
 * doubled. EOS: appended (and scored) unless the text already ends with it. When the tokenizer has
 * no pad token and padding reuses EOS, the EOS label stays: only padding (added later by the
 * collator) is masked, never a real EOS.
 */
import { type ChatMessage, IGNORE_INDEX, type TokenizedExample, type TokenizerLike } from "@ortrl/core";
import { type ChatRenderer, assistantTokenMask, commonPrefixLength } from "./chat-masks.js";
import type { SftRecord } from "./sft-formats.js";

export interface SftTokenizeOptions {
  /** Mask prompt tokens of prompt-completion records; null = automatic (on). */
  completionOnlyLoss: boolean | null;
  /** Score only assistant turns of conversational records. */
  assistantOnlyLoss: boolean;
  /** Jinja template text replacing the tokenizer's own; null = the tokenizer's. */
  chatTemplate: string | null;
}

/**
 * @returns the example before truncation (inputIds and labels of equal length).
 * @throws Error when a conversational record needs a chat template and there is none, the template
 *   fails to render, or assistant-only loss is asked for a record that is not conversational.
 */
export function tokenizeSftRecord(tok: TokenizerLike, rec: SftRecord, opts: SftTokenizeOptions): TokenizedExample {
  const plain = (text: string) => tok.encode(text, { addSpecialTokens: false });
  const render: ChatRenderer = (messages, generationPrompt) =>
    tok.applyChatTemplate(messages, { addGenerationPrompt: generationPrompt, ...(opts.chatTemplate !== null ? { chatTemplate: opts.chatTemplate } : {}) });
  const completionOnly = opts.completionOnlyLoss ?? true;
  if (opts.assistantOnlyLoss && (rec.format !== "conversational" && rec.format !== "conversational_prompt_completion")) {
    throw new Error(`assistantOnlyLoss needs conversational records ({messages} or message-list prompt/completion), got a ${rec.format} record`);
  }

  switch (rec.format) {
    case "language_modeling": {
      const ids = withEos(tok, withBos(tok, plain(rec.text)));
      return { inputIds: ids, labels: [...ids] };
    }
    case "prompt_completion":
    case "alpaca": {
      const body = plain(rec.prompt + rec.completion);
      const promptLen = commonPrefixLength(plain(rec.prompt), body);
      const ids = withBos(tok, body);
      const offset = ids.length - body.length;
      const full = withEos(tok, ids);
      const labels = full.map((id, t) => (completionOnly && t < offset + promptLen ? IGNORE_INDEX : id));
      return { inputIds: full, labels };
    }
    case "conversational":
      return chatExample(tok, rec.messages, null, render, opts.assistantOnlyLoss);
    case "conversational_prompt_completion":
      return chatExample(tok, [...rec.prompt, ...rec.completion], completionOnly ? rec.prompt : null, render, opts.assistantOnlyLoss);
  }
}

/** A rendered conversation; tokens of `prompt` (rendered with the generation prompt) are masked when given. */
function chatExample(tok: TokenizerLike, messages: ChatMessage[], prompt: ChatMessage[] | null, render: ChatRenderer, assistantOnly: boolean): TokenizedExample {
  const text = render(messages, false);
  const body = tok.encode(text, { addSpecialTokens: false });
  const keep = new Array<boolean>(body.length).fill(true);
  if (prompt) {
    const promptLen = commonPrefixLength(tok.encode(render(prompt, true), { addSpecialTokens: false }), body);
    for (let t = 0; t < promptLen; t++) keep[t] = false;
  }
  if (assistantOnly) {
    const mask = assistantTokenMask(tok, messages, text, body, render);
    for (let t = 0; t < body.length; t++) keep[t] = keep[t]! && mask[t]!;
  }
  const ids = withBos(tok, body);
  const offset = ids.length - body.length;
  return { inputIds: ids, labels: ids.map((id, t) => (t < offset || !keep[t - offset] ? IGNORE_INDEX : id)) };
}

/** Prepends BOS when the tokenizer config adds one and `ids` does not already start with it. */
export function withBos(tok: TokenizerLike, ids: number[]): number[] {
  if (!tok.addBosToken || tok.bosTokenId === null || ids[0] === tok.bosTokenId) return ids;
  return [tok.bosTokenId, ...ids];
}

/** Appends EOS unless the tokenizer has none or `ids` already ends with it. */
export function withEos(tok: TokenizerLike, ids: number[]): number[] {
  if (tok.eosTokenId === null || ids[ids.length - 1] === tok.eosTokenId) return ids;
  return [...ids, tok.eosTokenId];
}

/**
 * Keeps the first `maxLength` tokens (TRL truncation_mode "keep_start").
 * @returns the example itself when it fits.
 */
export function truncateExample(e: TokenizedExample, maxLength: number): TokenizedExample {
  if (e.inputIds.length <= maxLength) return e;
  return { inputIds: e.inputIds.slice(0, maxLength), labels: e.labels.slice(0, maxLength) };
}
