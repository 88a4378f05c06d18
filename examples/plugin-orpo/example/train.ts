/**
 * ORPO from code with the plugin: LoRA on stories260K, TRL's metrics printed from the event stream.
 *
 *   npx tsx examples/dpo/self-preference-pairs.ts --model ../shared/models/stories260K-hf --n 200 --out pairs.jsonl
 *   npx tsx examples/plugin-orpo/example/train.ts pairs.jsonl out/orpo
 */
import * as F from "@ortrl/core";
import { orpoPlugin } from "ortrl-plugin-orpo";

const [data = "pairs.jsonl", outputDir = "out/orpo", modelDir = "../shared/models/stories260K-hf"] = process.argv.slice(2);

// 1. The config: training arguments + ORPO's fields, validated (a bad value throws a ConfigError naming it).
const config = orpoPlugin.resolve({
  outputDir,
  dataFiles: [data],
  evalHoldout: 0.2,
  maxLength: 128,
  maxPromptLength: 64,
  beta: 0.1,
  learningRate: 2e-3,
  maxSteps: 40,
  perDeviceTrainBatchSize: 8,
  loggingSteps: 10,
  evalSteps: 20,
  saveSteps: 0,
});

// 2. The policy (LoRA here) and the run's container: core's seams plus the plugin's bindings.
const model = await F.loadPretrained(modelDir);
const policy = F.CausalLmPolicy.fromPretrained(model, { r: 16, loraAlpha: 32, targetModules: "all-linear" }, config.seed);
const container = F.createTrainingContainer({ policy, args: config });
await container.load(orpoPlugin.module(config));

// 3. Watch the run: events are facts, subscribers only observe.
const show = (m: Readonly<Record<string, number>>, p = "") =>
  ["loss", "nll_loss", "rewards/margins", "rewards/accuracies"].map((k) => `${p}${k} ${m[p + k]?.toFixed(3)}`).join(", ");
const events$ = container.get<F.TrainerEvents>(F.TrainerEvents).events$;
events$.pipe(F.ofType("log")).subscribe((e) => console.log(`step ${e.step}: ${show(e.metrics)}`));
events$.pipe(F.ofType("evaluate")).subscribe((e) => console.log(`step ${e.step}: ${show(e.metrics, "eval_")}`));

// 4. Train (the final adapter is written to outputDir).
const trainer = container.get<F.Trainer>(F.Trainer);
console.log(`before: ${show(await trainer.evaluate(), "eval_")}`);
const result = await trainer.run();
console.log(`done: ${result.globalStep} steps, adapter in ${outputDir}`);
