/**
 * DPO training on stories260K through the plugin and the core trainer: the first loss of a fresh
 * LoRA run is ln 2 (policy = reference), held-out reward accuracy rises well above chance on pairs
 * the model made from its own generations (LoRA and full fine-tuning), TRL's metric keys in events,
 * and a precomputed reference that matches the live one and is reused on resume.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type * as F from "@ortrl/core";
import { type PairRecord, dpoRun, selfPreferencePairs, writeJsonl } from "./helpers/dpo.js";

const DPO_KEYS = ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected"];
const logs = (events: F.TrainerEvent[]) => events.filter((e): e is F.LogEvent => e.type === "log");
const evals = (events: F.TrainerEvent[]) => events.filter((e): e is F.EvaluateEvent => e.type === "evaluate");

let pairs: PairRecord[];
let trainFile: string;
let evalFile: string;
beforeAll(async () => {
  pairs = await selfPreferencePairs(96, 7);
  trainFile = writeJsonl(pairs.slice(0, 72), "train.jsonl");
  evalFile = writeJsonl(pairs.slice(72), "eval.jsonl");
});

describe("a fresh LoRA DPO run", () => {
  it("logs ln 2 first, then TRL's keys; evaluation logs eval_* of all of them", async () => {
    const r = await dpoRun({ dataFiles: [trainFile], evalDataFiles: [evalFile], maxSteps: 2, learningRate: 1e-3 });
    await r.trainer.run();
    const first = logs(r.events)[0]!.metrics;
    expect(Math.abs(first.loss! - Math.LN2)).toBeLessThan(1e-6);
    expect(first["rewards/chosen"]).toBeCloseTo(0, 6);
    expect(first["rewards/accuracies"]).toBe(0);
    expect(Object.keys(first)).toEqual(["loss", "grad_norm", "learning_rate", ...DPO_KEYS, "epoch", "num_tokens", "train_tokens_per_second"]);
    const ev = evals(r.events).at(-1)!.metrics;
    expect(Object.keys(ev)).toEqual(["eval_loss", ...DPO_KEYS.map((k) => `eval_${k}`), "eval_runtime"]);
    const step = r.events.find((e): e is F.StepEndEvent => e.type === "step_end")!;
    expect(Object.keys(step.metrics)).toEqual(Object.keys(first));
    expect(existsSync(join(r.config.outputDir, "adapter_model.safetensors"))).toBe(true);
  });
});

describe("DPO learns the preference on held-out pairs", () => {
  const train = async (lora: Partial<F.LoraConfig> | null, learningRate: number) => {
    const r = await dpoRun({ dataFiles: [trainFile], evalDataFiles: [evalFile], maxSteps: 18, loggingSteps: 6, evalSteps: 6, learningRate, beta: 0.1, lora, lrSchedulerType: "constant" });
    const result = await r.trainer.run();
    const evs = evals(r.events).map((e) => e.metrics);
    console.log(`${lora ? "LoRA" : "full"}: eval_rewards/accuracies ${evs.map((m) => m["eval_rewards/accuracies"]!.toFixed(3)).join(" -> ")}, eval_loss ${evs.map((m) => m.eval_loss!.toFixed(4)).join(" -> ")}`);
    return result.evalMetrics!;
  };
  it("LoRA (reference = adapter disabled)", async () => {
    const m = await train({ r: 8, loraAlpha: 16, targetModules: "all-linear" }, 1e-3);
    expect(m["eval_rewards/accuracies"]).toBeGreaterThan(0.85);
    expect(m.eval_loss).toBeLessThan(Math.LN2 * 0.8);
    expect(m["eval_rewards/margins"]).toBeGreaterThan(0);
  });
  it("full fine-tuning (reference = frozen copy)", async () => {
    const m = await train(null, 2e-4);
    expect(m["eval_rewards/accuracies"]).toBeGreaterThan(0.85);
    expect(m.eval_loss).toBeLessThan(Math.LN2 * 0.8);
  });
});

describe("precomputed reference log-probs", () => {
  it("give the live reference's losses, are written beside the run, and a resume reads them", async () => {
    const live = await dpoRun({ dataFiles: [trainFile], maxSteps: 4, learningRate: 1e-3, lora: null });
    await live.trainer.run();
    const pre = await dpoRun({ dataFiles: [trainFile], maxSteps: 4, learningRate: 1e-3, lora: null, precomputeRefLogProbs: true, saveSteps: 2, outputDir: live.config.outputDir + "-pre" });
    const controller = new AbortController();
    pre.container.get<F.TrainerEvents>((await import("@ortrl/core")).TrainerEvents).events$.subscribe((e) => {
      if (e.type === "step_end" && e.step === 2) controller.abort();
    });
    await pre.trainer.run({ signal: controller.signal });
    const file = join(pre.config.outputDir, "reference_logps.safetensors");
    expect(existsSync(file)).toBe(true);
    const resumed = await dpoRun({ dataFiles: [trainFile], maxSteps: 4, learningRate: 1e-3, lora: null, precomputeRefLogProbs: true, saveSteps: 2, outputDir: pre.config.outputDir, resumeFromCheckpoint: join(pre.config.outputDir, "checkpoint-2") });
    await resumed.trainer.run();
    const ref = resumed.container.get<F.PrecomputedReference>((await import("@ortrl/core")).ReferenceModel);
    expect(ref.computedRows).toBe(0); // read from the file, not recomputed
    const losses = (ev: F.TrainerEvent[]) => ev.flatMap((e) => (e.type === "step_end" ? [e.metrics.loss!] : []));
    const got = [...losses(pre.events), ...losses(resumed.events)];
    expect(got).toHaveLength(4);
    losses(live.events).forEach((l, i) => expect(Math.abs(got[i]! - l)).toBeLessThan(1e-5));
  });
});

describe("continuing an existing adapter (--adapter)", () => {
  it("the reference is base + that adapter, frozen: the first loss is ln 2 again", async () => {
    const first = await dpoRun({ dataFiles: [trainFile], maxSteps: 3, learningRate: 5e-3 });
    await first.trainer.run();
    const next = await dpoRun({ dataFiles: [trainFile], maxSteps: 2, learningRate: 5e-3, lora: null, adapterDir: first.config.outputDir });
    expect(next.policy.adapter).not.toBeNull();
    await next.trainer.run();
    expect(Math.abs(logs(next.events)[0]!.metrics.loss! - Math.LN2)).toBeLessThan(1e-6);
  });
});
