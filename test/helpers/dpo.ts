/**
 * DPO runs on real data for tests: preference pairs that stories260K makes from its own generations
 * (examples/dpo/self-preference-pairs.ts), and a DPO run through the plugin with every event recorded.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { type DpoConfig, dpoPlugin } from "@ortrl/dpo";
import { type PluginRun, STORIES, pluginRun } from "./train.js";
import { selfPreferencePairs as makePairs } from "../../examples/dpo/self-preference-pairs.js";

export type { PairRecord } from "../../examples/dpo/self-preference-pairs.js";

/** `n` self-generated preference pairs of stories260K (deterministic for a seed). */
export const selfPreferencePairs = (n: number, seed: number) => makePairs(STORIES, n, seed);

/** Writes records as JSONL into a fresh temp dir; returns the path. */
export function writeJsonl(records: readonly object[], name = "pairs.jsonl"): string {
  const path = join(mkdtempSync(join(tmpdir(), "ortrl-dpo-")), name);
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return path;
}

export type DpoRun = PluginRun<DpoConfig>;

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
  return pluginRun(dpoPlugin, config, { lora: lora === undefined ? { r: 8, loraAlpha: 16, targetModules: "all-linear" } : lora, adapterDir });
}
