/**
 * `npm run demo`: the main job end to end on an embedded default, with no downloads.
 *
 *  1. writes a small random Llama and a byte-level tokenizer (tiny-model.ts);
 *  2. measures exact-match accuracy on held-out two-digit additions (task.ts);
 *  3. continued pretraining (full parameters) on task-style text, then accuracy;
 *  4. SFT (all parameters, completion-only loss) on prompt/completion pairs, then accuracy.
 * Output goes to ./demo-output (override with ORTRL_DEMO_DIR). Seed: ORTRL_DEMO_SEED (default 42; how far
 * accuracy rises varies with the seed, see README). Threads: ORTRL_THREADS (default: all cores).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as F from "@ortrl/core";
import { cptPlugin } from "@ortrl/cpt";
import { sftPlugin } from "@ortrl/sft";
import { type Problem, answer, prompt, splitProblems } from "./task.js";
import { writeTinyModel } from "./tiny-model.js";

const OUT = process.env.ORTRL_DEMO_DIR ?? "demo-output";
const SEED = Number(process.env.ORTRL_DEMO_SEED ?? 42);
const threads = process.env.ORTRL_THREADS ? Number(process.env.ORTRL_THREADS) : undefined;
const runtime = new F.Runtime({ intraOpNumThreads: threads });
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;

/** Greedy answers to held-out prompts; exact match after trimming. */
async function accuracy(modelDir: string, test: Problem[], adapterDir?: string): Promise<number> {
  const m = await F.loadPretrained(modelDir, runtime);
  const lm = adapterDir ? (await F.attachAdapterFromDir(m.lm, adapterDir)).lm : m.lm;
  const tok = m.tokenizer!;
  const out = await F.generate(lm, test.map((p) => tok.encode(prompt(p))), { maxNewTokens: 5, temperature: 0, eosTokenId: tok.eosTokenId! });
  let right = 0;
  out.completions.forEach((ids, i) => {
    if (tok.decode(ids, { skipSpecialTokens: true }).trim() === answer(test[i]!)) right++;
  });
  return right / test.length;
}

async function train<C extends F.TrainingArguments>(plugin: F.MethodPlugin<C>, modelDir: string, config: C, lora: Partial<F.LoraConfig> | null): Promise<void> {
  const model = await F.loadPretrained(modelDir, runtime);
  const policy = F.CausalLmPolicy.fromPretrained(model, lora, config.seed);
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(plugin.module(config));
  const events = container.get<F.TrainerEvents>(F.TrainerEvents);
  events.events$.pipe(F.ofType("log")).subscribe((e) => {
    console.log(`  step ${e.step}: loss ${e.metrics.loss!.toFixed(4)}  lr ${e.metrics.learning_rate!.toExponential(1)}  ${e.metrics.train_tokens_per_second!.toFixed(0)} tok/s`);
  });
  await container.get<F.Trainer>(F.Trainer).run();
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const { train: problems, test } = splitProblems(200, SEED);

const base = join(OUT, "base");
await writeTinyModel(base, SEED);
const acc0 = await accuracy(base, test);
console.log(`[${elapsed()}] random model: exact-match accuracy ${pct(acc0)} on ${test.length} held-out problems`);

// Stage 1: continued pretraining on task-style text (every token scored, packed blocks).
const cptData = join(OUT, "cpt.jsonl");
writeFileSync(cptData, problems.map((p) => JSON.stringify({ text: prompt(p) + answer(p) })).join("\n") + "\n");
const cptDir = join(OUT, "cpt");
console.log(`[${elapsed()}] stage 1: continued pretraining (all parameters) on ${problems.length} task-style texts`);
await train(cptPlugin, base, cptPlugin.resolve({
  outputDir: cptDir,
  dataFiles: [cptData],
  // Each text on its own row: packed rows would let a problem attend to its neighbours' digits.
  packing: false,
  maxSeqLength: 64,
  perDeviceTrainBatchSize: 32,
  learningRate: 3e-3,
  warmupSteps: 30,
  lrSchedulerType: "cosine",
  maxSteps: 800,
  loggingSteps: 200,
  saveSteps: 0,
  weightDecay: 0.01,
  seed: SEED,
}), null);
const acc1 = await accuracy(cptDir, test);
console.log(`[${elapsed()}] after CPT: exact-match accuracy ${pct(acc1)}`);

// Stage 2: SFT of all parameters on prompt/completion pairs (loss on the answer and EOS only).
const sftData = join(OUT, "sft.jsonl");
writeFileSync(sftData, problems.map((p) => JSON.stringify({ prompt: prompt(p), completion: answer(p) })).join("\n") + "\n");
const sftDir = join(OUT, "sft");
console.log(`[${elapsed()}] stage 2: SFT (all parameters) on ${problems.length} prompt/completion pairs`);
await train(sftPlugin, cptDir, sftPlugin.resolve({
  outputDir: sftDir,
  dataFiles: [sftData],
  maxSeqLength: 64,
  perDeviceTrainBatchSize: 32,
  learningRate: 3e-3,
  warmupSteps: 20,
  lrSchedulerType: "cosine",
  maxSteps: 1200,
  loggingSteps: 300,
  saveSteps: 0,
  seed: SEED,
}), null);
const acc2 = await accuracy(sftDir, test);
console.log(`[${elapsed()}] after SFT: exact-match accuracy ${pct(acc2)}`);
console.log(JSON.stringify({ random: acc0, after_cpt: acc1, after_sft: acc2, seconds: (performance.now() - t0) / 1000 }));
