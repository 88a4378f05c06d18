/**
 * `ortrl generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P]
 *  [--top-k K] [--seed S] [--chat] [--adapter DIR]`: prints only the generated text.
 * Without --temperature the model's generation_config decides (greedy unless do_sample is set),
 * as transformers' generate() does.
 */
import { Command } from "commander";
import { generate, readTextFile } from "@ortrl/core";
import { UsageError, num } from "../errors.js";
import { type ModelFlags, addModelOptions, loadModel } from "./model-options.js";

interface GenerateFlags extends ModelFlags {
  prompt: string;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed: number;
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
    .option("--chat", "wrap the prompt in the model's chat template as a user turn")
    .option("--chat-template <file>", "Jinja chat template to use with --chat instead of the tokenizer's")
    .action(async (flags: GenerateFlags) => {
      const m = await loadModel(flags);
      const tok = m.tokenizer;
      if (!tok) throw new Error(`${flags.model}: no tokenizer.json`);
      let ids: number[];
      if (flags.chat) {
        const chatTemplate = flags.chatTemplate ? readTextFile(flags.chatTemplate) : undefined;
        if (!chatTemplate && !tok.chatTemplate) throw new UsageError(`${flags.model} has no chat_template: pass --chat-template FILE (a .jinja template)`);
        const text = tok.applyChatTemplate([{ role: "user", content: flags.prompt }], { addGenerationPrompt: true, chatTemplate });
        ids = tok.encode(text, { addSpecialTokens: false });
      } else {
        ids = tok.encode(flags.prompt);
        if (tok.addEosToken && ids.length && ids[ids.length - 1] === tok.eosTokenId) ids.pop();
      }
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
