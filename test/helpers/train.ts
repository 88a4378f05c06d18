/** Small real training runs for trainer tests: stories260K continued on a slice of tinyshakespeare. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { type CptConfig, cptPlugin } from "@ortrl/cpt";
import { SHARED } from "./cli.js";

export const STORIES = join(SHARED, "models/stories260K-hf");
const SHAKESPEARE = join(SHARED, "data/tinyshakespeare/input.txt");

/** Writes the first `chars` characters of tinyshakespeare to a temp .txt file. */
export function shakespeareSlice(chars: number, from = 0): string {
  const dir = mkdtempSync(join(tmpdir(), "ortrl-data-"));
  const path = join(dir, "slice.txt");
  writeFileSync(path, readFileSync(SHAKESPEARE, "utf8").slice(from, from + chars));
  return path;
}

/** A run built from a method plugin, not started, with every event recorded. */
export interface PluginRun<C extends F.TrainingArguments> {
  container: ReturnType<typeof F.createTrainingContainer>;
  trainer: F.DefaultTrainer;
  events: F.TrainerEvent[];
  policy: F.CausalLmPolicy;
  config: C;
}

export type Run = PluginRun<CptConfig>;

/** Loads `modelDir`, builds the policy (LoRA or full, or an existing adapter) and the plugin's container. */
export async function pluginRun<C extends F.TrainingArguments>(
  plugin: F.MethodPlugin<C>,
  config: C,
  opts: { lora: Partial<F.LoraConfig> | null; adapterDir?: string; modelDir?: string },
): Promise<PluginRun<C>> {
  const model = await F.loadPretrained(opts.modelDir ?? STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
  const policy = F.CausalLmPolicy.fromPretrained(model, opts.lora, config.seed, { adapterDir: opts.adapterDir });
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(plugin.module(config));
  const events: F.TrainerEvent[] = [];
  container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe((e) => events.push(e));
  return {
    container,
    // Resolved on first use, so a test can rebind seams before the trainer is built.
    get trainer() {
      return container.get<F.DefaultTrainer>(F.Trainer);
    },
    events,
    policy,
    config,
  };
}

/** A CPT run (not started) with every event recorded. */
export async function cptRun(overrides: Partial<CptConfig> & { outputDir?: string; lora?: Partial<F.LoraConfig> }, modelDir = STORIES): Promise<Run> {
  const { lora, ...rest } = overrides;
  const config = cptPlugin.resolve({
    outputDir: mkdtempSync(join(tmpdir(), "ortrl-out-")),
    dataFiles: [shakespeareSlice(12_000)],
    maxSeqLength: 64,
    perDeviceTrainBatchSize: 4,
    learningRate: 1e-3,
    maxSteps: 6,
    loggingSteps: 2,
    saveSteps: 0,
    shuffle: true,
    ...rest,
  });
  return pluginRun(cptPlugin, config, { lora: lora ?? null, modelDir });
}
