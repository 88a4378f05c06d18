/**
 * Preference pairs a model makes from its own generations, for trying DPO without a labelled dataset:
 * prompt = a sampled opening (8 tokens from BOS, temperature 1), chosen = the greedy continuation,
 * rejected = a continuation sampled at temperature 1.6. DPO on these teaches the model to prefer its
 * own most likely text over high-temperature noise: a preference with a clear, learnable signal.
 *
 *   npx tsx examples/dpo/self-preference-pairs.ts --model ../shared/models/stories260K-hf --n 400 --out pairs.jsonl
 *
 * Writes JSONL `{prompt, chosen, rejected}` records (the standard format of `ortrl train dpo`).
 */
import { realpathSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as F from "@ortrl/core";

export interface PairRecord {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** `n` pairs from the model in `modelDir`, deterministic for a seed. */
export async function selfPreferencePairs(modelDir: string, n: number, seed: number, completionTokens = 20): Promise<PairRecord[]> {
  const m = await F.loadPretrained(modelDir, new F.Runtime({ intraOpNumThreads: 1 }));
  const tok = m.tokenizer;
  if (!tok || tok.bosTokenId === null || tok.eosTokenId === null) throw new Error(`${modelDir}: needs a tokenizer with BOS and EOS tokens`);
  const bos = tok.bosTokenId;
  const eos = tok.eosTokenId;
  const openings = await F.generate(m.lm, Array.from({ length: n }, () => [bos]), { maxNewTokens: 8, temperature: 1, seed });
  const prompts = openings.completions.map((c) => [bos, ...c.filter((t) => t !== eos)]);
  const greedy = await F.generate(m.lm, prompts, { maxNewTokens: completionTokens, temperature: 0, eosTokenId: eos });
  const hot = await F.generate(m.lm, prompts, { maxNewTokens: completionTokens, temperature: 1.6, seed: seed + 1, eosTokenId: eos });
  const text = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true });
  return prompts.map((p, i) => ({ prompt: text(p), chosen: text(greedy.completions[i]!), rejected: text(hot.completions[i]!) }));
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const arg = (name: string, def?: string) => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i > 0 ? process.argv[i + 1] : def;
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
  };
  const n = Number(arg("n", "400"));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, got ${arg("n")}`);
  const pairs = await selfPreferencePairs(arg("model"), n, Number(arg("seed", "7")));
  writeFileSync(arg("out"), pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
  console.log(`wrote ${pairs.length} pairs to ${arg("out")}`);
}
