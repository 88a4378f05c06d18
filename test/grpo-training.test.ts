/**
 * GRPO on stories260K through the plugin and the core trainer: reward rises with a reward function
 * that reads a dataset column; rollouts are drawn from the current weights; TRL's metric keys;
 * numIterations reuses a rollout; reward-function failures stop the run with an error naming the
 * function, the step and the index, leaving the last checkpoint intact.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { grpoRun, objectPrompts } from "./helpers/grpo.js";
import { STORIES } from "./helpers/train.js";

const logs = (events: F.TrainerEvent[]) => events.filter((e): e is F.LogEvent => e.type === "log").map((e) => e.metrics);
const GRPO_KEYS = [
  "reward", "reward_std", "rewards/mentions_answer/mean", "rewards/mentions_answer/std", "frac_reward_zero_std",
  "completions/mean_length", "completions/min_length", "completions/max_length", "completions/clipped_ratio",
  "completions/mean_terminated_length", "completions/min_terminated_length", "completions/max_terminated_length",
  "kl", "entropy", "clip_ratio/low_mean", "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean",
];

describe("GRPO learns from a reward that reads a dataset column", () => {
  it("mean reward of the last steps is well above the first (stories260K, LoRA)", async () => {
    const r = await grpoRun({ dataFiles: [objectPrompts(96)], maxSteps: 10, perDeviceTrainBatchSize: 32, beta: 0.04 });
    await r.trainer.run();
    const rewards = logs(r.events).map((m) => m.reward!);
    console.log(`reward per step: ${rewards.map((x) => x.toFixed(3)).join(" ")}`);
    const first = (rewards[0]! + rewards[1]!) / 2;
    const last = (rewards.at(-1)! + rewards.at(-2)!) / 2;
    expect(last).toBeGreaterThan(first + 0.25);
    const m = logs(r.events)[0]!;
    for (const k of ["loss", "grad_norm", "learning_rate", ...GRPO_KEYS, "epoch", "num_tokens"]) expect(Number.isFinite(m[k]), k).toBe(true);
    const samples = readFileSync(join(r.config.outputDir, "completions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(samples.length).toBe(10 * 32);
    expect(Object.keys(samples[0])).toEqual(["step", "prompt", "completion", "reward", "rewards", "advantage"]);
  });
});

describe("rollouts come from the current weights", () => {
  it("step 2's rollout equals generate() on the weights after step 1 with the same seed, and not on the starting weights", async () => {
    const r = await grpoRun({ dataFiles: [objectPrompts(32)], maxSteps: 2, saveSteps: 1, learningRate: 2e-2 });
    const calls: { prompts: number[][]; opts: F.GenerateOptions; out: F.GenerateOutput }[] = [];
    const inner = new F.PolicySampler(r.policy);
    r.container.rebindSync<F.Sampler>(F.Sampler).toConstantValue({
      async generate(prompts, opts) {
        const out = await inner.generate(prompts, opts);
        calls.push({ prompts: prompts.map((p) => [...p]), opts: { ...opts }, out });
        return out;
      },
    });
    await r.trainer.run();
    expect(calls).toHaveLength(2);
    const base = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
    const after1 = (await F.attachAdapterFromDir(base.lm, join(r.config.outputDir, "checkpoint-1"))).lm;
    const { prompts, opts, out } = calls[1]!;
    expect((await F.generate(after1, prompts, opts)).completions).toEqual(out.completions);
    expect((await F.generate(base.lm, prompts, opts)).completions).not.toEqual(out.completions);
  });
});

describe("numIterations", () => {
  it("one rollout serves numIterations optimizer steps (old log-probs from the rollout)", async () => {
    const r = await grpoRun({ dataFiles: [objectPrompts(32)], maxSteps: 4, numIterations: 2 });
    let generations = 0;
    const inner = new F.PolicySampler(r.policy);
    r.container.rebindSync<F.Sampler>(F.Sampler).toConstantValue({ generate: (p, o) => (generations++, inner.generate(p, o)) });
    await r.trainer.run();
    expect(generations).toBe(2);
    const m = logs(r.events);
    expect(m).toHaveLength(4);
    expect(m[0]!.reward).toBeDefined(); // rollout metrics with the rollout's first step
    expect(m[1]!.reward).toBeUndefined();
    expect(m[1]!["clip_ratio/region_mean"]).toBeGreaterThanOrEqual(0);
  });
});

describe("reward functions that fail", () => {
  const cases: [string, F.RewardFn, RegExp][] = [
    ["throws", () => {
      throw new Error("boom");
    }, /reward function 'bad' threw at step 2: boom/],
    ["rejects", async () => Promise.reject(new Error("async boom")), /reward function 'bad' threw at step 2: async boom/],
    ["wrong count", ({ completions }) => completions.slice(1).map(() => 1), /reward function 'bad' returned 15 values at step 2; expected 16/],
    ["NaN", ({ completions }) => completions.map((_, i) => (i === 3 ? NaN : 1)), /reward function 'bad' returned NaN at index 3 \(step 2\)/],
    ["non-number", ({ completions }) => completions.map((_, i) => (i === 5 ? ("1" as unknown as number) : 1)), /reward function 'bad' returned the string "1" at index 5 \(step 2\); expected a number or null/],
  ];
  it.each(cases)("%s: stops with an error naming the function, step and index; checkpoint-1 stays", async (_name, fn, pattern) => {
    let calls = 0;
    const bad: F.RewardFn = (args) => (++calls === 1 ? args.completions.map(() => 0) : fn(args));
    const r = await grpoRun({ dataFiles: [objectPrompts(16)], maxSteps: 3, saveSteps: 1, rewardFuncs: [{ name: "bad", fn: bad }] });
    await expect(r.trainer.run()).rejects.toThrow(pattern);
    expect(existsSync(join(r.config.outputDir, "checkpoint-1", "adapter_model.safetensors"))).toBe(true);
    expect(existsSync(join(r.config.outputDir, "checkpoint-2"))).toBe(false);
    expect(r.events.at(-1)!.type).toBe("error");
  });
  it("a completion where every function returns null gets reward 0, with a warning", async () => {
    const r = await grpoRun({ dataFiles: [objectPrompts(16)], maxSteps: 1, rewardFuncs: [{ name: "sometimes", fn: ({ completions }) => completions.map((_, i) => (i < 4 ? null : 1)) }] });
    const warnings: string[] = [];
    const onWarn = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarn);
    try {
      await r.trainer.run();
      await new Promise((res) => setImmediate(res));
    } finally {
      process.off("warning", onWarn);
    }
    expect(logs(r.events)[0]!.reward).toBeCloseTo(12 / 16, 10);
    expect(warnings.some((w) => /step 1: 4 of 16 completions got null from every reward function; their reward is 0/.test(w))).toBe(true);
  });
  it("numGenerations must divide the completions of a step, before any work", async () => {
    await expect(grpoRun({ dataFiles: [objectPrompts(8)], numGenerations: 3, perDeviceTrainBatchSize: 16 })).rejects.toThrow(
      /numGenerations \(3\) must divide the completions of a step, perDeviceTrainBatchSize x gradientAccumulationSteps = 16 x 1 = 16/,
    );
  });
});

describe("conversational prompts", () => {
  it("are rendered with the chat template; completions reach reward functions as assistant messages", async () => {
    const { writeJsonl } = await import("./helpers/dpo.js");
    const data = writeJsonl([{ prompt: [{ role: "user", content: "Tell me about a dog." }], answer: "dog" }, { prompt: [{ role: "user", content: "A cat?" }], answer: "cat" }], "chat.jsonl");
    const seen: unknown[] = [];
    const r = await grpoRun({
      dataFiles: [data],
      maxSteps: 1,
      chatTemplate: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
      rewardFuncs: [{ name: "shape", fn: ({ completions, prompts }) => (seen.push(completions[0], prompts[0]), completions.map(() => 1)) }],
    });
    await r.trainer.run();
    expect(seen[0]).toEqual([{ role: "assistant", content: expect.any(String) }]);
    expect(seen[1]).toEqual([{ role: "user", content: expect.stringMatching(/dog|cat/) }]);
  });
});
