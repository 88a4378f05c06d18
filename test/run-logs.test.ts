/**
 * The library trainer's run logs (stories260K on tinyshakespeare): metrics.jsonl holds the numbers the events
 * carry (one vocabulary: TRL's keys, transformers' learning_rate), a resumed run logs each step once, and
 * generatePrompts' samples (samples.jsonl) come from the current weights.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { STORIES, cptRun } from "./helpers/train.js";

const lines = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number | string>);

describe("metrics.jsonl", () => {
  it("a library run writes metrics.jsonl with the values of its step_end, log and evaluate events", async () => {
    const r = await cptRun({ maxSteps: 4, loggingSteps: 1, evalSteps: 2, evalHoldout: 0.2, lrSchedulerType: "linear", warmupSteps: 1 });
    const result = await r.trainer.run();
    const logged = lines(join(r.config.outputDir, "metrics.jsonl"));
    const steps = r.events.filter((e): e is F.StepEndEvent => e.type === "step_end");
    const logs = r.events.filter((e): e is F.LogEvent => e.type === "log");
    const evals = r.events.filter((e): e is F.EvaluateEvent => e.type === "evaluate");
    expect(logged).toEqual([...logs, ...evals].sort((a, b) => a.step - b.step || (a.type === "log" ? -1 : 1)).map((e) => ({ step: e.step, ...e.metrics })));
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    for (const s of steps) {
      const line = logged.find((l) => l.step === s.step && l.loss !== undefined)!;
      // loggingSteps 1: the step's event and its log line are the same numbers, under the same keys.
      expect(Object.keys(s.metrics)).toEqual(Object.keys(line).filter((k) => k !== "step"));
      for (const k of ["loss", "grad_norm", "learning_rate", "epoch", "num_tokens", "train_tokens_per_second"]) expect(s.metrics[k], k).toBe(line[k]);
    }
    // transformers' learning_rate: the rate after the step's scheduler step (warm-up 1, linear to 0 over 4 steps).
    expect(steps.map((s) => s.metrics.learning_rate)).toEqual([1e-3, (1e-3 * 2) / 3, 1e-3 / 3, 0]);
    const end = r.events.find((e): e is F.TrainEndEvent => e.type === "train_end")!;
    expect(result.metrics).toEqual(end.metrics);
    expect(Object.keys(result.metrics)).toEqual(["global_step", "train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second", "num_tokens", "epoch"]);
    expect([result.metrics.global_step, result.metrics.train_loss, result.metrics.num_tokens]).toEqual([result.globalStep, result.trainLoss, steps.at(-1)!.metrics.num_tokens]);
  });

  it("a resumed library run cuts metrics.jsonl back to its checkpoint: each step is logged once", async () => {
    const first = await cptRun({ maxSteps: 6, loggingSteps: 1, saveSteps: 2, saveTotalLimit: null });
    await first.trainer.run();
    const out = first.config.outputDir;
    const full = lines(join(out, "metrics.jsonl"));
    // As after a kill between logging steps 3-6 and checkpointing them, mid-way through a line.
    writeFileSync(join(out, "metrics.jsonl"), readFileSync(join(out, "metrics.jsonl"), "utf8") + '{"step":7,"loss":4.5');
    const resumed = await cptRun({ maxSteps: 6, loggingSteps: 1, saveSteps: 2, saveTotalLimit: null, outputDir: out, resumeFromCheckpoint: join(out, "checkpoint-2") });
    await resumed.trainer.run();
    const after = lines(join(out, "metrics.jsonl"));
    expect(after.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(after.map((l) => l.loss)).toEqual(full.map((l) => l.loss));
  });
});

describe("samples.jsonl", () => {
  it("generateEvery 2: greedy completions of the prompts at steps 0 (before training), 2 and 4, from the weights of those steps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-prompts-"));
    const file = join(dir, "prompts.jsonl");
    writeFileSync(file, ['{"prompt": "Once upon a time"}', '{"prompt": "The cat"}'].join("\n") + "\n");
    const r = await cptRun({ maxSteps: 4, learningRate: 1e-2, saveSteps: 2, saveTotalLimit: null, generateEvery: 2, generatePrompts: file, generateMaxNewTokens: 16 });
    await r.trainer.run();
    const samples = lines(join(r.config.outputDir, "samples.jsonl")) as { step: number; prompt: string; completion: string }[];
    expect(samples.map((s) => [s.step, s.prompt])).toEqual([0, 2, 4].flatMap((step) => [[step, "Once upon a time"], [step, "The cat"]]));
    for (const s of samples) expect(s.completion.length).toBeGreaterThan(0);
    const events = r.events.filter((e): e is F.SamplesEvent => e.type === "samples");
    expect(events.map((e) => [e.step, e.samples.map((s) => s.completion)])).toEqual([0, 2, 4].map((step) => [step, samples.filter((s) => s.step === step).map((s) => s.completion)]));
    // The samples are the current weights': generating from the checkpoint of the step (and the final model) gives them again.
    for (const [step, from] of [[0, STORIES], [2, join(r.config.outputDir, "checkpoint-2")], [4, r.config.outputDir]] as const) {
      const model = await F.loadPretrained(from, new F.Runtime({ intraOpNumThreads: 1 }));
      const again = await F.generateSamples({ lm: model.lm, config: model.config, tokenizer: model.tokenizer! }, ["Once upon a time", "The cat"], { maxNewTokens: 16, batchSize: 8 });
      expect(again, `step ${step}`).toEqual(samples.filter((s) => s.step === step).map((s) => s.completion));
    }
  });

  it("reads .txt prompts one per line and refuses a record without a prompt", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-prompts-"));
    writeFileSync(join(dir, "p.txt"), "Once upon a time\n\nThe dog\n");
    expect(F.readSamplePrompts(join(dir, "p.txt"))).toEqual(["Once upon a time", "The dog"]);
    writeFileSync(join(dir, "p.jsonl"), '{"prompt": "a"}\n{"text": "b"}\n');
    expect(() => F.readSamplePrompts(join(dir, "p.jsonl"))).toThrow(/p\.jsonl:2: expected a string "prompt" field/);
  });
});
