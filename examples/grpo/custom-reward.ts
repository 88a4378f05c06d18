/**
 * GRPO from code with a reward function written in TypeScript, printing the reward per step from the
 * event stream. stories260K learns to mention the object its prompt names ("Lily saw a big dog." ->
 * a story that mentions "dog" again); the object is a dataset column (`answer`) that reaches the
 * reward function under its own name.
 *
 *   npx tsx examples/grpo/custom-reward.ts [--model ../shared/models/stories260K-hf] [--steps 12]
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { grpoPlugin } from "@ortrl/grpo";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const modelDir = arg("model", "../shared/models/stories260K-hf");
const steps = Number(arg("steps", "12"));

// 1. Prompts with a column the reward reads.
const words = ["dog", "cat", "ball", "tree", "bird", "cake", "boat", "park"];
const starts = ["Once upon a time, there was a {w}.", "Lily saw a big {w}.", "Tom had a little {w}.", "One day, Ben found a {w}."];
const rng = new F.Rng(1);
const rows = Array.from({ length: 128 }, () => {
  const w = words[rng.int(0, words.length)]!;
  return { prompt: starts[rng.int(0, starts.length)]!.replace("{w}", w), answer: w };
});
const dir = mkdtempSync(join(tmpdir(), "ortrl-grpo-example-"));
const data = join(dir, "prompts.jsonl");
writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");

// 2. The reward: plain TypeScript over one batch; `answer` is the dataset column, aligned with the completions.
const mentionsAnswer: F.RewardFn = ({ completions, answer }) =>
  completions.map((c, i) => (String(c).toLowerCase().includes(String(answer![i])) ? 1 : 0));

// 3. The run: config (TRL's GRPOConfig names), policy with LoRA, the plugin's bindings.
const config = grpoPlugin.resolve({
  outputDir: join(dir, "out"),
  dataFiles: [data],
  rewardFuncs: [{ name: "mentions_answer", fn: mentionsAnswer }],
  numGenerations: 8,
  perDeviceTrainBatchSize: 32, // completions per step: 4 prompts x 8 generations
  maxCompletionLength: 24,
  learningRate: 3e-3,
  lrSchedulerType: "constant",
  beta: 0.04,
  maxSteps: steps,
  loggingSteps: 1,
});
const model = await F.loadPretrained(modelDir);
const policy = F.CausalLmPolicy.fromPretrained(model, { r: 16, loraAlpha: 32, targetModules: "all-linear" }, config.seed);
const container = F.createTrainingContainer({ policy, args: config });
await container.load(grpoPlugin.module(config));

// 4. Subscribe to the events: the rollout's mean reward and the KL to the reference, per step.
container
  .get<F.TrainerEvents>(F.TrainerEvents)
  .events$.pipe(F.ofType("step_end"))
  .subscribe((e) => console.log(`step ${e.step}: reward ${e.metrics.reward!.toFixed(3)}  kl ${e.metrics.kl!.toFixed(4)}  loss ${e.metrics.loss!.toExponential(2)}`));

const result = await container.get<F.Trainer>(F.Trainer).run();
console.log(`done: ${result.globalStep} steps; adapter and completions.jsonl in ${config.outputDir}`);
