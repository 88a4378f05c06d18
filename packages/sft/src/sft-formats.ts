/**
 * SFT dataset formats, detected per record (TRL's dataset types, plus Alpaca):
 *
 * | format                            | record                                              |
 * |-----------------------------------|-----------------------------------------------------|
 * | conversational                    | `{messages: [{role, content}, ...]}`                |
 * | conversational prompt-completion  | `{prompt: [messages], completion: [messages]}`      |
 * | prompt-completion                 | `{prompt: string, completion: string}`              |
 * | alpaca                            | `{instruction, input?, output}` (strings)           |
 * | language modeling                 | `{text}` (the field is `datasetTextField`)          |
 *
 * The first row that fits wins, in this order; other fields are ignored. Alpaca records become
 * prompt-completion records whose prompt is the standard Alpaca template (Taori et al. 2023,
 * stanford_alpaca's PROMPT_DICT) and whose completion is `output`.
 */
import { type ChatMessage, DataError, type JsonlRecord, kindOf as kind, messageList } from "@ortrl/core";

export type SftFormat = "conversational" | "conversational_prompt_completion" | "prompt_completion" | "alpaca" | "language_modeling";

/** A record in one of the SFT formats (Alpaca already rendered into prompt/completion). */
export type SftRecord =
  | { format: "language_modeling"; text: string }
  | { format: "prompt_completion" | "alpaca"; prompt: string; completion: string }
  | { format: "conversational"; messages: ChatMessage[] }
  | { format: "conversational_prompt_completion"; prompt: ChatMessage[]; completion: ChatMessage[] };

/** A detected record and where it came from. */
export interface SourcedRecord {
  file: string;
  /** 1-based line (JSONL) or record index (JSON array). */
  line: number;
  record: SftRecord;
}

const ALPACA_HEAD = "Below is an instruction that describes a task";
const ALPACA_TAIL = "Write a response that appropriately completes the request.";

/**
 * The standard Alpaca prompt: with a non-empty `input`,
 * "Below is an instruction that describes a task, paired with an input that provides further context.
 * Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
 * else "Below is an instruction that describes a task. Write a response that appropriately completes
 * the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n".
 */
export function alpacaPrompt(instruction: string, input?: string | null): string {
  if (input) {
    return `${ALPACA_HEAD}, paired with an input that provides further context. ${ALPACA_TAIL}\n\n### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`;
  }
  return `${ALPACA_HEAD}. ${ALPACA_TAIL}\n\n### Instruction:\n${instruction}\n\n### Response:\n`;
}

const EXPECTED =
  "expected one of {messages: [{role, content}]}, {prompt, completion} (strings or message lists), {instruction, input?, output} (Alpaca) or {TEXT}";

/**
 * Detects the format of one record.
 * @param textField the language-modeling field (`datasetTextField`).
 * @throws DataError naming the file, the record (line or array index) and the fields seen when no
 *   format fits, or naming the field when a fitting record has a malformed value (e.g. a message
 *   without a string `content`).
 */
export function detectRecord(file: string, rec: JsonlRecord, textField = "text"): SftRecord {
  const r = rec.record;
  const where = rec.where ?? "record";
  const fail = (msg: string): never => {
    throw new DataError(file, rec.line, msg.startsWith("fits") ? `${where} ${msg}` : `${where}: ${msg}`);
  };
  if (r.messages !== undefined) return { format: "conversational", messages: messageList(r.messages, "messages", fail) };
  if (r.prompt !== undefined && r.completion !== undefined) {
    if (typeof r.prompt === "string" && typeof r.completion === "string") return { format: "prompt_completion", prompt: r.prompt, completion: r.completion };
    if (Array.isArray(r.prompt) && Array.isArray(r.completion)) {
      return { format: "conversational_prompt_completion", prompt: messageList(r.prompt, "prompt", fail), completion: messageList(r.completion, "completion", fail) };
    }
    fail(`'prompt' and 'completion' must both be strings or both be message lists, got ${kind(r.prompt)} and ${kind(r.completion)}`);
  }
  if (r.instruction !== undefined && r.output !== undefined) {
    if (typeof r.instruction !== "string") fail(`field 'instruction' must be a string, got ${kind(r.instruction)}`);
    if (typeof r.output !== "string") fail(`field 'output' must be a string, got ${kind(r.output)}`);
    if (r.input !== undefined && r.input !== null && typeof r.input !== "string") fail(`field 'input' must be a string, got ${kind(r.input)}`);
    return { format: "alpaca", prompt: alpacaPrompt(r.instruction as string, r.input as string | undefined), completion: r.output as string };
  }
  if (r[textField] !== undefined) {
    if (typeof r[textField] !== "string") fail(`field '${textField}' must be a string, got ${kind(r[textField])}`);
    return { format: "language_modeling", text: r[textField] as string };
  }
  const seen = Object.keys(r);
  return fail(`fits no SFT dataset format (fields seen: ${seen.length ? seen.join(", ") : "none"}); ${EXPECTED.replace("TEXT", textField)}`);
}
