/**
 * The training record (`ortrl_training.json`, see core's training-record.ts) of an `ortrl train` run: which data
 * format each method's reader detected, the prompt format that implies for prompting the trained model, and the
 * template (the SFT Alpaca template, or the chat template in use).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type PromptFormat, type TrainingRecord, camelToSnake, loadChatTemplate } from "@ortrl/core";
import { alpacaPrompt } from "@ortrl/sft";

/** Per method: the data reader's format name -> the record's data format and the prompt format it implies. */
const FORMATS: Record<string, Record<string, [dataFormat: string, prompt: PromptFormat]>> = {
  cpt: {},
  sft: {
    language_modeling: ["text", "raw"],
    alpaca: ["alpaca", "alpaca"],
    prompt_completion: ["prompt-completion", "raw"],
    conversational: ["messages", "chat"],
    conversational_prompt_completion: ["messages", "chat"],
  },
  dpo: {
    standard: ["pairs", "raw"],
    implicit_prompt: ["pairs", "raw"],
    conversational: ["pairs", "chat"],
    conversational_implicit_prompt: ["pairs", "chat"],
    sharegpt: ["pairs", "chat"],
  },
  grpo: { prompt: ["prompts", "raw"], query: ["prompts", "raw"], question: ["prompts", "raw"], conversational: ["prompts", "chat"] },
};

/** What the record needs to know about a run. */
export interface RunDescription {
  method: string;
  /** Records per format, as the method's dataset reports them (`dataset.stats.formats`); empty when it does not. */
  formats: Record<string, number>;
  /** The resolved method config (camelCase keys). */
  config: Record<string, unknown>;
  /** Run options outside the method config (model, adapter, device, LoRA options), camelCase keys. */
  runOptions: Record<string, unknown>;
  baseModel: string;
  adapter: string | null;
  /** The tokenizer's own chat template, if any. */
  tokenizerChatTemplate: string | null;
  ortrlVersion: string;
}

/** JSON-friendly copy of `o` with snake_case keys (undefined values dropped). */
function snake(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [camelToSnake(k), v]));
}

/**
 * Builds the training record of a run. The data format is that of most training records (CPT: "text"); the prompt
 * format follows from it (Alpaca -> alpaca, conversations -> chat, anything else, completion-only prompt-completion
 * included, -> raw); the template is the SFT Alpaca template (`alpacaPrompt("{instruction}")`, no input) or the chat
 * template in use (the config's `chatTemplate`, else the tokenizer's).
 */
export function trainingRecordOf(run: RunDescription): TrainingRecord {
  const table = FORMATS[run.method] ?? {};
  const top = Object.entries(run.formats).sort((a, b) => b[1] - a[1])[0]?.[0];
  const [dataFormat, promptFormat]: [string, PromptFormat] = top === undefined ? [run.method === "cpt" ? "text" : "unknown", "raw"] : (table[top] ?? [top, "raw"]);
  const base = {
    method: run.method,
    data_format: dataFormat,
    dataset_formats: run.formats,
    prompt_format: promptFormat,
  };
  const tail = {
    base_model: resolve(run.baseModel),
    adapter: run.adapter ? resolve(run.adapter) : null,
    ortrl_version: run.ortrlVersion,
    arguments: { ...snake(run.runOptions), ...snake(run.config) },
  };
  if (promptFormat === "alpaca") {
    return { ...base, prompt_template: alpacaPrompt("{instruction}"), prompt_template_with_input: alpacaPrompt("{instruction}", "{input}"), ...tail };
  }
  if (promptFormat === "chat") {
    const given = typeof run.config.chatTemplate === "string" ? run.config.chatTemplate : null;
    const template = loadChatTemplate(given) ?? run.tokenizerChatTemplate;
    const source = given === null ? "tokenizer" : given.includes("{{") || given.includes("{%") ? "inline" : given;
    return { ...base, prompt_template: template, chat_template_source: source, ...tail };
  }
  return { ...base, prompt_template: null, ...tail };
}

/** The version of ortrl (the CLI package's), or "unknown" when its package.json cannot be read. */
export function ortrlVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version as string;
  } catch {
    return "unknown";
  }
}
