/**
 * Sample generations during training (`generateEvery` / `generatePrompts`): the prompts of a file, greedily
 * completed by the policy's current weights (adapter included), as written to `samples.jsonl` and the
 * `samples` event.
 */
import { type TrainingRecord, encodeRecordedPrompt } from "./training-record.js";
import { DataError } from "../data/data-error.js";
import { parseJsonl, readDataText } from "../data/jsonl.js";
import { generate } from "../generate/generate.js";
import type { Policy } from "./seams.js";

/** The file that holds a run's samples in its output directory: one `{ step, prompt, completion }` per line. */
export const SAMPLES_FILE = "samples.jsonl";

/**
 * The prompts of `file`: a `.txt` file holds one prompt per line (blank lines skipped); anything else is read as
 * JSON Lines of records with a string `prompt` field.
 * @throws DataError naming the file (and line) for a missing file, a record without a string prompt, or no prompt.
 */
export function readSamplePrompts(file: string): string[] {
  const text = readDataText(file);
  let prompts: string[];
  if (/\.txt$/i.test(file)) {
    prompts = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  } else {
    prompts = parseJsonl(file, text).map(({ line, record }) => {
      if (typeof record.prompt !== "string") throw new DataError(file, line, `expected a string "prompt" field`);
      return record.prompt;
    });
  }
  if (prompts.length === 0) throw new DataError(file, 0, "holds no prompt");
  return prompts;
}

/**
 * Greedy completions (decoded, special tokens skipped) of `prompts` by the policy's current weights, `batchSize`
 * prompts per generation batch; a row stops at EOS (the model's `eos_token_id`, else the tokenizer's) or after
 * `maxNewTokens` tokens. Prompts are formatted and encoded as `ortrl generate` does after training
 * ({@link encodeRecordedPrompt}: the run's prompt format from `opts.record`, e.g. the Alpaca template after Alpaca SFT).
 * @throws RangeError when a prompt encodes to nothing or is too long for the model.
 */
export async function generateSamples(policy: Pick<Policy, "lm" | "config" | "tokenizer"> & Partial<Pick<Policy, "trainable">>, prompts: readonly string[], opts: { maxNewTokens: number; batchSize: number; record?: TrainingRecord | null }): Promise<string[]> {
  const tok = policy.tokenizer;
  const ids = prompts.map((p, i) => {
    const t = encodeRecordedPrompt(tok, p, opts.record);
    if (t.length === 0) throw new RangeError(`sample prompt ${i + 1} is empty and the tokenizer adds no BOS token`);
    return t;
  });
  const eos = policy.config.eosTokenId ?? tok.eosTokenId ?? undefined;
  const out: string[] = [];
  // The base weights a LoRA run does not train are embedded in the decode session (CausalLM.withFrozenBase).
  const lm = policy.trainable ? policy.lm.withFrozenBase(policy.trainable.names) : policy.lm;
  for (let i = 0; i < ids.length; i += opts.batchSize) {
    const r = await generate(lm, ids.slice(i, i + opts.batchSize), { maxNewTokens: opts.maxNewTokens, temperature: 0, eosTokenId: eos });
    out.push(...r.completions.map((c) => tok.decode(c, { skipSpecialTokens: true })));
  }
  return out;
}
