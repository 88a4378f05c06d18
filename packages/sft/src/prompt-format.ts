/**
 * Prompting a trained model the way it was trained: the prompt format recorded in a run's `ortrl_training.json`
 * (core's training-record.ts) and the prompt wrapped in it — the Alpaca template SFT trained with
 * ({@link alpacaPrompt}, the prompt as the instruction), a user turn of the chat template, or the text as is.
 * Used by `ortrl generate --format` (and meant for eval).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CHAT_TEMPLATE_FILE, type PromptFormat, TRAINING_RECORD_FILE, type TokenizerLike, readTextFile, readTrainingRecord } from "@ortrl/core";
import { alpacaPrompt } from "./sft-formats.js";

/** A prompt format found in a training record. */
export interface RecordedPromptFormat {
  format: PromptFormat;
  /** The record it was read from (`DIR/ortrl_training.json`). */
  file: string;
}

/**
 * The prompt format `dir`'s training record gives (`prompt_format`): alpaca after Alpaca SFT, chat after training on
 * conversations, raw otherwise (completion-only prompt-completion data included).
 * @returns null when `dir` has no `ortrl_training.json`.
 * @throws Error naming the file when the record is unreadable or malformed.
 */
export function recordedPromptFormat(dir: string): RecordedPromptFormat | null {
  const record = readTrainingRecord(dir);
  return record ? { format: record.prompt_format, file: join(dir, TRAINING_RECORD_FILE) } : null;
}

/** The chat template a run saved with its output (`dir/chat_template.jinja`), or null. */
export function savedChatTemplate(dir: string): string | null {
  const path = join(dir, CHAT_TEMPLATE_FILE);
  return existsSync(path) ? readTextFile(path) : null;
}

/**
 * The token ids of `prompt` in `format`, ready to generate from: `raw` and `alpaca` are encoded as SFT encodes a
 * prompt (BOS as the tokenizer adds it, no trailing EOS); `chat` renders `[{ role: "user", content: prompt }]` with
 * the generation prompt (`chatTemplate`, else the tokenizer's) and encodes it without special tokens (the template
 * writes them).
 * @throws Error when `chat` has no template (from the tokenizer: "has no chat_template").
 */
export function encodePrompt(tok: TokenizerLike, prompt: string, format: PromptFormat, opts: { chatTemplate?: string | null } = {}): number[] {
  if (format === "chat") {
    const text = tok.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true, chatTemplate: opts.chatTemplate ?? undefined });
    return tok.encode(text, { addSpecialTokens: false });
  }
  const ids = tok.encode(format === "alpaca" ? alpacaPrompt(prompt) : prompt);
  if (tok.addEosToken && ids.length && ids[ids.length - 1] === tok.eosTokenId) ids.pop();
  return ids;
}
