/**
 * DPO runs on real data for tests: preference pairs that stories260K makes from its own generations
 * (prompt = a sampled story opening; chosen = its greedy continuation; rejected = a continuation
 * sampled at temperature 1.6), and a DPO run through the plugin with every event recorded.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { type DpoConfig, dpoPlugin } from "@ortrl/dpo";
import { STORIES } from "./train.js";

export interface PairRecord {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** `n` self-generated preference pairs (deterministic for a seed), as `{prompt, chosen, rejected}` text. */
export async function selfPreferencePairs(n: number, seed: number, completionTokens = 20): Promise<PairRecord[]> {
  const m = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
  const tok = m.tokenizer!;
  const bos = tok.bosTokenId!;
  const eos = tok.eosTokenId!;
  const openings = await F.generate(m.lm, Array.from({ length: n }, () => [bos]), { maxNewTokens: 8, temperature: 1, seed });
  const prompts = openings.completions.map((c) => [bos, ...c.filter((t) => t !== eos)]);
  const greedy = await F.generate(m.lm, prompts, { maxNewTokens: completionTokens, temperature: 0, eosTokenId: eos });
  const hot = await F.generate(m.lm, prompts, { maxNewTokens: completionTokens, temperature: 1.6, seed: seed + 1, eosTokenId: eos });
  const text = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true });
  return prompts.map((p, i) => ({ prompt: text(p), chosen: text(greedy.completions[i]!), rejected: text(hot.completions[i]!) }));
}

/** Writes records as JSONL into a fresh temp dir; returns the path. */
export function writeJsonl(records: readonly object[], name = "pairs.jsonl"): string {
  const path = join(mkdtempSync(join(tmpdir(), "ortrl-dpo-")), name);
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return path;
}

export interface DpoRun {
  container: ReturnType<typeof F.createTrainingContainer>;
  trainer: F.Trainer;
  events: F.TrainerEvent[];
  policy: F.CausalLmPolicy;
  config: DpoConfig;
}

/** A DPO run (not started) on stories260K with every event recorded. */
export async function dpoRun(
  overrides: Partial<DpoConfig> & { dataFiles: string[]; lora?: Partial<F.LoraConfig> | null; adapterDir?: string },
): Promise<DpoRun> {
  const { lora, adapterDir, ...rest } = overrides;
  const config = dpoPlugin.resolve({
    outputDir: mkdtempSync(join(tmpdir(), "ortrl-dpo-out-")),
    perDeviceTrainBatchSize: 8,
    perDeviceEvalBatchSize: 16,
    maxSteps: 4,
    loggingSteps: 1,
    saveSteps: 0,
    ...rest,
  });
  const model = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
  const policy = F.CausalLmPolicy.fromPretrained(model, lora === undefined ? { r: 8, loraAlpha: 16, targetModules: "all-linear" } : lora, config.seed, { adapterDir });
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(dpoPlugin.module(config));
  const events: F.TrainerEvent[] = [];
  container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe((e) => events.push(e));
  return {
    container,
    get trainer() {
      return container.get<F.Trainer>(F.Trainer);
    },
    events,
    policy,
    config,
  };
}
