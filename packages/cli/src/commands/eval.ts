/**
 * `ortrl eval --model DIR --data FILE.jsonl [--max-length N] [--adapter DIR]`: token-weighted causal-LM
 * loss over `{"text": ...}` records (BOS as the tokenizer configures, no EOS, truncated to
 * --max-length, default max_position_embeddings). Prints `{"loss": L, "perplexity": P, "tokens": N}`.
 */
import { Command } from "commander";
import { DataError, evaluateLoss, readRecords, stringField } from "@ortrl/core";
import { num } from "../errors.js";
import { type ModelFlags, addModelOptions, loadModel } from "./model-options.js";

interface EvalFlags extends ModelFlags {
  data: string;
  maxLength?: number;
  batchSize: number;
}

export function evalCommand(): Command {
  const cmd = new Command("eval").description("causal-LM loss and perplexity of a model on {\"text\"} JSONL records");
  addModelOptions(cmd)
    .requiredOption("--data <file>", "JSONL file, one {\"text\": ...} object per line (or a .json array of them)")
    .option("--max-length <n>", "truncate each record to N tokens (default: max_position_embeddings)", num("--max-length", true, 2))
    .option("--batch-size <n>", "records per forward pass", num("--batch-size", true, 1), 8)
    .action(async (flags: EvalFlags) => {
      const records = readRecords(flags.data);
      if (records.length === 0) throw new DataError(flags.data, 0, "no records");
      const texts = records.map((r) => stringField(flags.data, r, "text"));
      const m = await loadModel(flags);
      const tok = m.tokenizer;
      if (!tok) throw new Error(`${flags.model}: no tokenizer.json`);
      const maxLen = Math.min(flags.maxLength ?? m.config.maxPositionEmbeddings, m.config.maxPositionEmbeddings);
      const seqs = texts.map((t) => {
        const ids = tok.encode(t);
        if (tok.addEosToken && ids.length && ids[ids.length - 1] === tok.eosTokenId) ids.pop();
        return ids.slice(0, maxLen);
      });
      if (seqs.every((x) => x.length < 2)) throw new DataError(flags.data, 0, "no record has 2 or more tokens to score");
      const r = await evaluateLoss(m.lm, seqs, { batchSize: flags.batchSize });
      process.stdout.write(JSON.stringify({ loss: r.loss, perplexity: r.perplexity, tokens: r.tokens }) + "\n");
    });
  return cmd;
}
