/**
 * GRPO with the built-in `accuracy` reward on the demo's arithmetic task (a test-sized version of
 * `npm run demo`): a small random Llama learns two-digit addition by CPT then SFT, then GRPO samples 8
 * answers per prompt and reinforces the right ones. Asserted on measured values: the mean reward of
 * the rollouts rises, and held-out greedy exact match does not fall beyond the noise of 200 problems
 * (one standard error at p = 0.37 is 0.034). Measured here: reward 0.23 -> 0.32 (means over 5 steps),
 * held-out 0.375 -> 0.34.
 *
 * Settings that matter (measured while writing this test): with a KL penalty (beta 0.1) and a low
 * learning rate on a fixed set of 64 prompts (5 passes) the reward rises; without them, this tiny model
 * trades held-out accuracy for the prompts it sees (0.375 -> 0.15 at lr 3e-4 without KL).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { cptPlugin } from "@ortrl/cpt";
import { sftPlugin } from "@ortrl/sft";
import { grpoPlugin } from "@ortrl/grpo";
import { answer, prompt, splitProblems } from "../../examples/demo/task.js";
import { writeTinyModel } from "../../examples/demo/tiny-model.js";

const dir = mkdtempSync(join(tmpdir(), "ortrl-slow-grpo-"));
const { train, test } = splitProblems(200, 42);
const runtime = new F.Runtime({ intraOpNumThreads: 2 });

async function run<C extends F.TrainingArguments>(plugin: F.MethodPlugin<C>, model: string, config: C): Promise<{ policy: F.CausalLmPolicy; logs: Record<string, number>[] }> {
  const policy = F.CausalLmPolicy.fromPretrained(await F.loadPretrained(model, runtime), null, config.seed);
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(plugin.module(config));
  const logs: Record<string, number>[] = [];
  container.get<F.TrainerEvents>(F.TrainerEvents).events$.pipe(F.ofType("log")).subscribe((e) => logs.push({ ...e.metrics }));
  await container.get<F.Trainer>(F.Trainer).run();
  return { policy, logs };
}

async function heldOutAccuracy(policy: F.CausalLmPolicy): Promise<number> {
  const tok = policy.tokenizer;
  const out = await F.generate(policy.lm, test.map((p) => tok.encode(prompt(p))), { maxNewTokens: 5, temperature: 0, eosTokenId: tok.eosTokenId! });
  return out.completions.filter((ids, i) => tok.decode(ids, { skipSpecialTokens: true }).trim() === answer(test[i]!)).length / test.length;
}

const jsonl = (name: string, rows: object[]) => {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return p;
};

describe("GRPO on the demo's arithmetic task", () => {
  it("raises the mean reward without lowering held-out exact match", async () => {
    await writeTinyModel(join(dir, "base"), 42);
    const common = { maxSeqLength: 64, perDeviceTrainBatchSize: 32, learningRate: 3e-3, lrSchedulerType: "cosine" as const, saveSteps: 0, loggingSteps: 400, seed: 42 };
    await run(cptPlugin, join(dir, "base"), cptPlugin.resolve({ ...common, outputDir: join(dir, "cpt"), dataFiles: [jsonl("cpt.jsonl", train.map((p) => ({ text: prompt(p) + answer(p) })))], packing: false, warmupSteps: 30, maxSteps: 800, weightDecay: 0.01 }));
    const sft = await run(sftPlugin, join(dir, "cpt"), sftPlugin.resolve({ ...common, outputDir: join(dir, "sft"), dataFiles: [jsonl("sft.jsonl", train.map((p) => ({ prompt: prompt(p), completion: answer(p) })))], warmupSteps: 20, maxSteps: 1200 }));
    const before = await heldOutAccuracy(sft.policy);

    const grpo = await run(
      grpoPlugin,
      join(dir, "sft"),
      grpoPlugin.resolve({
        outputDir: join(dir, "grpo"),
        dataFiles: [jsonl("grpo.jsonl", train.slice(0, 64).map((p) => ({ prompt: prompt(p), answer: answer(p) })))],
        rewardFuncs: ["accuracy"],
        numGenerations: 8,
        perDeviceTrainBatchSize: 64,
        maxCompletionLength: 4,
        learningRate: 1e-4,
        lrSchedulerType: "constant",
        beta: 0.1,
        maxSteps: 40,
        loggingSteps: 5,
        saveSteps: 0,
        seed: 42,
      }),
    );
    const after = await heldOutAccuracy(grpo.policy);
    const rewards = grpo.logs.map((m) => m.reward!);
    const first = (rewards[0]! + rewards[1]!) / 2;
    const last = (rewards.at(-1)! + rewards.at(-2)!) / 2;
    console.log(`held-out exact match ${before} -> ${after}; mean reward per 5 steps ${rewards.map((r) => r.toFixed(3)).join(" ")}`);
    expect(before).toBeGreaterThan(0.2);
    expect(last).toBeGreaterThan(first + 0.04);
    expect(after).toBeGreaterThanOrEqual(before - 0.05);
  });
});
