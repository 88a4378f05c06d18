/**
 * `ortrl generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P]
 *  [--top-k K] [--seed S] [--format alpaca|chat|raw] [--chat] [--adapter DIR]`: prints only the generated text.
 * Without --temperature the model's generation_config decides (greedy unless do_sample is set),
 * as transformers' generate() does.
 * The prompt is formatted as `--format` says (`--chat` = `--format chat`); without either, as the training record
 * (`ortrl_training.json`) of the adapter (with --adapter) or else the model directory says, with one stderr note,
 * else raw. In chat format the template is --chat-template, else the one the run saved beside the adapter
 * (chat_template.jinja), else the tokenizer's.
 */
import { Command } from "commander";
import { PROMPT_FORMATS, type PromptFormat, generate, readTextFile } from "@ortrl/core";
import { encodePrompt, recordedPromptFormat, savedChatTemplate } from "@ortrl/sft";
import { UsageError, num } from "../errors.js";
import { type ModelFlags, addModelOptions, loadModel } from "./model-options.js";

interface GenerateFlags extends ModelFlags {
  prompt: string;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed: number;
  format?: PromptFormat;
  chat?: boolean;
  chatTemplate?: string;
}

export function generateCommand(): Command {
  const cmd = new Command("generate").description("generate a continuation of a prompt and print it");
  addModelOptions(cmd)
    .requiredOption("--prompt <text>", "prompt text (may be empty)")
    .option("--max-new-tokens <n>", "maximum new tokens", num("--max-new-tokens", true, 1), 128)
    .option("--temperature <t>", "sampling temperature (0 = greedy)", num("--temperature", false, 0))
    .option("--top-p <p>", "nucleus sampling mass in (0, 1]", (raw: string) => {
      const v = num("--top-p", false, 0)(raw);
      if (!(v > 0 && v <= 1)) throw new UsageError(`--top-p expects a number in (0, 1], got '${raw}'`);
      return v;
    })
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", num("--top-k", true, 0))
    .option("--seed <s>", "sampler seed", num("--seed", true, 0), 0)
    .option("--format <format>", "prompt format: alpaca (the SFT Alpaca template), chat (a user turn of the chat template) or raw; default: as the adapter's or model's ortrl_training.json records, else raw", (raw: string) => {
      if (!PROMPT_FORMATS.includes(raw as PromptFormat)) throw new UsageError(`--format expects one of ${PROMPT_FORMATS.join(", ")}, got '${raw}'`);
      return raw as PromptFormat;
    })
    .option("--chat", "wrap the prompt in the model's chat template as a user turn (= --format chat)")
    .option("--chat-template <file>", "Jinja chat template to use with --format chat instead of the saved or tokenizer's")
    .action(async (flags: GenerateFlags) => {
      const m = await loadModel(flags);
      const tok = m.tokenizer;
      if (!tok) throw new Error(`${flags.model}: no tokenizer.json`);
      if (flags.chat && flags.format && flags.format !== "chat") throw new UsageError(`--chat means --format chat; it contradicts --format ${flags.format}`);
      const format = flags.chat ? "chat" : (flags.format ?? detectedFormat(flags.adapter ?? flags.model));
      let chatTemplate: string | null = null;
      if (format === "chat") {
        chatTemplate = flags.chatTemplate ? readTextFile(flags.chatTemplate) : flags.adapter ? savedChatTemplate(flags.adapter) : null;
        if (!chatTemplate && !tok.chatTemplate) throw new UsageError(`${flags.model} has no chat_template: pass --chat-template FILE (a .jinja template)`);
      }
      const ids = encodePrompt(tok, flags.prompt, format, { chatTemplate });
      if (ids.length === 0) throw new UsageError("the prompt is empty and the tokenizer adds no BOS token");
      const gc = m.generationConfig;
      const sample = flags.temperature !== undefined ? flags.temperature > 0 : !!gc.doSample;
      const eos = gc.eosTokenId ?? m.config.eosTokenId ?? tok.eosTokenId ?? undefined;
      const out = await generate(m.lm, [ids], {
        maxNewTokens: flags.maxNewTokens,
        temperature: sample ? (flags.temperature ?? gc.temperature ?? 1) : 0,
        topP: flags.topP ?? (sample ? gc.topP : undefined) ?? 1,
        topK: flags.topK ?? (sample ? gc.topK : undefined) ?? 0,
        seed: flags.seed,
        eosTokenId: eos ?? undefined,
      });
      process.stdout.write(tok.decode(out.completions[0]!, { skipSpecialTokens: true }) + "\n");
    });
  return cmd;
}

/** The prompt format `dir`'s ortrl_training.json records (saying so on stderr), else raw. */
function detectedFormat(dir: string): PromptFormat {
  const found = recordedPromptFormat(dir);
  if (!found || found.format === "raw") return "raw";
  process.stderr.write(`ortrl: formatting the prompt as ${found.format}, as ${found.file} records; --format raw to turn off\n`);
  return found.format;
}
