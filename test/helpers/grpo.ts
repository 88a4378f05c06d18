/**
 * GRPO runs on real data for tests: stories260K prompts that name an object ("Lily saw a big dog.")
 * with the object in an `answer` column, and a GRPO run through the plugin with every event recorded.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { type GrpoConfig, grpoPlugin } from "@ortrl/grpo";
import { type PluginRun, pluginRun } from "./train.js";

const WORDS = ["dog", "cat", "ball", "tree", "bird", "cake", "boat", "park"];
const STARTS = ["Once upon a time, there was a {w}.", "Lily saw a big {w}.", "Tom had a little {w}.", "One day, Ben found a {w}."];

/** `n` prompts `{prompt, answer}` (deterministic), written as JSONL; returns the path. */
export function objectPrompts(n: number, seed = 1): string {
  const rng = new F.Rng(seed);
  const lines = Array.from({ length: n }, () => {
    const w = WORDS[rng.int(0, WORDS.length)]!;
    return JSON.stringify({ prompt: STARTS[rng.int(0, STARTS.length)]!.replace("{w}", w), answer: w });
  });
  const path = join(mkdtempSync(join(tmpdir(), "ortrl-grpo-")), "prompts.jsonl");
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Reward: 1 when the completion mentions the row's `answer` word (a dataset column), else 0. */
export const mentionsAnswer: F.RewardFn = ({ completions, answer }) =>
  completions.map((c, i) => (String(c).toLowerCase().includes(String(answer![i]).toLowerCase()) ? 1 : 0));

export type GrpoRun = PluginRun<GrpoConfig>;

/** A GRPO run (not started) on stories260K, LoRA r 16 all-linear unless `lora` says otherwise. */
export async function grpoRun(overrides: Partial<GrpoConfig> & { dataFiles: string[]; lora?: Partial<F.LoraConfig> | null }): Promise<GrpoRun> {
  const { lora, ...rest } = overrides;
  const config = grpoPlugin.resolve({
    outputDir: mkdtempSync(join(tmpdir(), "ortrl-grpo-out-")),
    rewardFuncs: [{ name: "mentions_answer", fn: mentionsAnswer }],
    numGenerations: 8,
    perDeviceTrainBatchSize: 16,
    maxCompletionLength: 24,
    maxSteps: 2,
    loggingSteps: 1,
    saveSteps: 0,
    learningRate: 3e-3,
    lrSchedulerType: "constant",
    ...rest,
  });
  return pluginRun(grpoPlugin, config, { lora: lora === undefined ? { r: 16, loraAlpha: 32, targetModules: "all-linear" } : lora });
}
