/**
 * How a run was trained, saved beside its final model or adapter: `ortrl_training.json` (the method, the data format,
 * the prompt format and template the data was wrapped in, the base model, the ortrl version and the resolved
 * arguments) and, when the run used a chat template other than the tokenizer's, `chat_template.jinja` (as
 * transformers saves it; `Tokenizer.fromDir` reads it back). Tools that prompt the trained model (`ortrl generate`,
 * later eval) read the record to format prompts as training did ({@link readTrainingRecord}).
 *
 * The seam: a run that wants the record written binds {@link TrainingRecord}; the trainer's final save writes it
 * ({@link writeTrainingRecord}) after the model, before the merged model (so `merged/` gets the chat template too).
 */
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { withFsContext } from "../io/fs-errors.js";

/** The record's file name in an output directory. */
export const TRAINING_RECORD_FILE = "ortrl_training.json";
/** transformers' file for a chat template saved beside a tokenizer. */
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";

/**
 * How a prompt is wrapped before the model sees it: `alpaca` (the Alpaca template, the prompt as the instruction),
 * `chat` (a user turn of the chat template, with the generation prompt), `raw` (the text as is).
 */
export type PromptFormat = "alpaca" | "chat" | "raw";
export const PROMPT_FORMATS: readonly PromptFormat[] = ["alpaca", "chat", "raw"];

/**
 * The content of `ortrl_training.json` (snake_case keys, as written). Also the seam's token: bind a value to have the
 * final save write it.
 */
export const TrainingRecord = Symbol.for("ortrl.TrainingRecord");
export interface TrainingRecord {
  /** The training method: "cpt", "sft", "dpo" or "grpo" (a plugin's name). */
  method: string;
  /**
   * The data format (the one of most training records): "text", "alpaca", "prompt-completion", "messages"
   * (conversations, chat prompt-completion), "pairs" (preference pairs), "prompts" (GRPO prompts).
   */
  data_format: string;
  /** Training records per format as the method's data reader named them (e.g. `{ "alpaca": 1000 }`). */
  dataset_formats: Record<string, number>;
  /** How training wrapped prompts, which `generate --format` defaults to. */
  prompt_format: PromptFormat;
  /**
   * The template prompts were wrapped in: for `alpaca` the exact SFT template with `{instruction}` (no input); for
   * `chat` the chat template's text; null for `raw`.
   */
  prompt_template: string | null;
  /** For `alpaca`: the template used for records with an input (`{instruction}`, `{input}`). */
  prompt_template_with_input?: string;
  /** For `chat`: where the template came from: "tokenizer", or the `--chat-template` value (a path, or "inline"). */
  chat_template_source?: string;
  /** The base model directory (absolute path). */
  base_model: string;
  /** The adapter the run continued (absolute path), if any. */
  adapter?: string | null;
  /** The ortrl version that trained it. */
  ortrl_version: string;
  /** The resolved arguments of the run (snake_case keys). */
  arguments: Record<string, unknown>;
}

/**
 * Writes `dir/ortrl_training.json` (atomically) and, when the record's chat template is not the tokenizer's
 * (`chat_template_source` other than "tokenizer"), `dir/chat_template.jinja` holding it.
 * @throws FileSystemError naming the file that could not be written.
 */
export function writeTrainingRecord(dir: string, record: TrainingRecord): void {
  if (record.prompt_format === "chat" && record.prompt_template && record.chat_template_source && record.chat_template_source !== "tokenizer") {
    writeFileAtomic(join(dir, CHAT_TEMPLATE_FILE), record.prompt_template);
  }
  writeJsonAtomic(join(dir, TRAINING_RECORD_FILE), record);
}

/**
 * Reads `dir/ortrl_training.json`.
 * @returns the record, or null when `dir` has none.
 * @throws Error naming the file when it cannot be read, is not JSON, or lacks a valid `method` or `prompt_format`.
 */
export function readTrainingRecord(dir: string): TrainingRecord | null {
  const path = join(dir, TRAINING_RECORD_FILE);
  if (!existsSync(path)) return null;
  const text = withFsContext("read", path, () => readFileSync(path, "utf8"));
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message}); delete it or fix it to use the training record`);
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw new Error(`${path}: expected a JSON object`);
  const r = rec as Partial<TrainingRecord>;
  if (typeof r.method !== "string") throw new Error(`${path}: field 'method' must be a string, got ${JSON.stringify(r.method)}`);
  if (!PROMPT_FORMATS.includes(r.prompt_format as PromptFormat)) {
    throw new Error(`${path}: field 'prompt_format' must be one of ${PROMPT_FORMATS.join(", ")}, got ${JSON.stringify(r.prompt_format)}`);
  }
  if (r.prompt_template !== undefined && r.prompt_template !== null && typeof r.prompt_template !== "string") {
    throw new Error(`${path}: field 'prompt_template' must be a string or null`);
  }
  return r as TrainingRecord;
}

/**
 * Token ids of `prompt` formatted as the run that `record` describes trained on (what `ortrl generate` does by
 * default after training): `alpaca` puts it as the instruction into `prompt_template`; `chat` renders it as one
 * user turn with the generation prompt (the recorded template, else the tokenizer's) and encodes it without special
 * tokens (the template writes them); `raw` or no record encodes it as written. BOS as the tokenizer adds it, no EOS.
 * @throws Error when `chat` finds no chat template.
 */
export function encodeRecordedPrompt(tok: TokenizerLike, prompt: string, record: Pick<TrainingRecord, "prompt_format" | "prompt_template"> | null | undefined): number[] {
  if (record?.prompt_format === "chat") {
    const text = tok.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true, chatTemplate: record.prompt_template ?? undefined });
    return tok.encode(text, { addSpecialTokens: false });
  }
  const text = record?.prompt_format === "alpaca" && record.prompt_template ? record.prompt_template.replace("{instruction}", prompt) : prompt;
  const ids = tok.encode(text);
  if (tok.addEosToken && ids.length && ids[ids.length - 1] === tok.eosTokenId) ids.pop();
  return ids;
}
