/**
 * `ortrl eval --model DIR --data FILE [--max-length N] [--adapter DIR]`: token-weighted causal-LM
 * loss over `{"text": ...}` records (JSON Lines, a JSON array, CSV or Parquet, gzip or not; BOS as the
 * tokenizer configures, no EOS, truncated to --max-length, default max_position_embeddings). Records
 * with empty text are skipped with a counted warning, as every command does. A record is tokenized in
 * bounded chunks and only up to the limit; truncated records are counted in one warning.
 * Prints `{"loss": L, "perplexity": P, "tokens": N}`.
 */
import { Command } from "commander";
import { DataError, dropEmptyRecords, encodeLong, evaluateLoss, isBlank, listNumbers, readRecords, recordUnit, stringField } from "@ortrl/core";
import { num } from "../errors.js";
import { type ModelFlags, addModelOptions, loadModel } from "./model-options.js";

interface EvalFlags extends ModelFlags {
  data: string;
  maxLength?: number;
  batchSize: number;
}

export function evalCommand(): Command {
  const cmd = new Command("eval").description("causal-LM loss and perplexity of a model on {\"text\"} records");
  addModelOptions(cmd)
    .requiredOption("--data <file>", "{\"text\": ...} records: JSONL, a JSON array, CSV or Parquet (gzip or not)")
    .option("--max-length <n>", "truncate each record to N tokens (default: max_position_embeddings)", num("--max-length", true, 2))
    .option("--batch-size <n>", "records per forward pass", num("--batch-size", true, 1), 8)
    .action(async (flags: EvalFlags) => {
      const records = readRecords(flags.data);
      if (records.length === 0) throw new DataError(flags.data, 0, "no records");
      const texts = records.map((r) => ({ line: r.line, text: stringField(flags.data, r, "text") }));
      const kept = dropEmptyRecords(flags.data, texts, (t) => (isBlank(t.text) ? "text" : undefined), recordUnit(records));
      const m = await loadModel(flags);
      const tok = m.tokenizer;
      if (!tok) throw new Error(`${flags.model}: no tokenizer.json`);
      const maxLen = Math.min(flags.maxLength ?? m.config.maxPositionEmbeddings, m.config.maxPositionEmbeddings);
      if (flags.maxLength !== undefined && flags.maxLength > maxLen) process.emitWarning(`--max-length ${flags.maxLength} is longer than the model's context (max_position_embeddings ${maxLen}); using ${maxLen}`, { code: "ORTRL_EVAL_MAX_LENGTH" });
      const truncated: number[] = [];
      const seqs = kept.map((t) => {
        const r = encodeLong(tok, t.text, { bos: true, maxTokens: maxLen });
        if (r.truncated) truncated.push(t.line);
        return r.ids;
      });
      if (truncated.length) {
        const unit = recordUnit(records);
        process.emitWarning(`${flags.data}: truncated ${truncated.length} of ${kept.length} records to ${maxLen} tokens (${unit}${truncated.length > 1 ? "s" : ""} ${listNumbers(truncated)}); the rest of their text is not scored`, { code: "ORTRL_EVAL_TRUNCATED" });
      }
      if (seqs.every((x) => x.length < 2)) throw new DataError(flags.data, 0, "no record has 2 or more tokens to score");
      const r = await evaluateLoss(m.lm, seqs, { batchSize: flags.batchSize });
      process.stdout.write(JSON.stringify({ loss: r.loss, perplexity: r.perplexity, tokens: r.tokens }) + "\n");
    });
  return cmd;
}
