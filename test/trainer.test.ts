/**
 * The trainer runtime on real data (stories260K, tinyshakespeare slices): event order, resume
 * reproducing an uninterrupted run, exact gradient accumulation, optimizer rebinding, NaN stop.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { cptRun } from "./helpers/train.js";

const stepLosses = (events: F.TrainerEvent[]) => events.flatMap((e) => (e.type === "step_end" ? [e.metrics.loss!] : []));

describe("events", () => {
  it("arrive in order with TRL/HF metric keys", async () => {
    const r = await cptRun({ maxSteps: 4, loggingSteps: 2, evalSteps: 2, saveSteps: 4, evalHoldout: 0.2 });
    await r.trainer.run();
    const types = r.events.map((e) => e.type);
    expect(types).toEqual([
      "train_begin",
      "step_end", "step_end", "log", "evaluate",
      "step_end", "step_end", "log", "evaluate", "save",
      "save", "train_end",
    ]);
    const log = r.events.find((e): e is F.LogEvent => e.type === "log")!;
    expect(Object.keys(log.metrics).sort()).toEqual(["epoch", "grad_norm", "learning_rate", "loss", "num_tokens", "train_tokens_per_second"]);
    const ev = r.events.find((e): e is F.EvaluateEvent => e.type === "evaluate")!;
    expect(ev.metrics.perplexity).toBeCloseTo(Math.exp(ev.metrics.eval_loss!), 10);
    expect(Object.isFrozen(log) && Object.isFrozen(log.metrics)).toBe(true);
    const saves = r.events.filter((e): e is F.SaveEvent => e.type === "save");
    expect(saves.map((s) => [s.final, s.path])).toEqual([[false, join(r.config.outputDir, "checkpoint-4")], [true, r.config.outputDir]]);
  });
  it("subscribing does not change training", async () => {
    const a = await cptRun({ maxSteps: 3 });
    const b = await cptRun({ maxSteps: 3 });
    const mutated: boolean[] = [];
    b.container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe((e) => {
      mutated.push(Reflect.set(e, "loss", 0), Reflect.set(e, "step", -1));
      if (e.type === "log") mutated.push(Reflect.set(e.metrics, "loss", 0));
    });
    await a.trainer.run();
    await b.trainer.run();
    expect(mutated.every((m) => m === false)).toBe(true);
    expect(stepLosses(b.events)).toEqual(stepLosses(a.events));
    expect(b.events.map((e) => e.type)).toEqual(a.events.map((e) => e.type));
  });
});

describe("resume", () => {
  it("training N steps, stopping and resuming to 2N reproduces the last N losses", async () => {
    const N = 4;
    const full = await cptRun({ maxSteps: 2 * N });
    await full.trainer.run();

    const first = await cptRun({ maxSteps: 2 * N, saveSteps: N });
    const controller = new AbortController();
    first.container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe((e) => {
      if (e.type === "step_end" && e.step === N) controller.abort();
    });
    const stopped = await first.trainer.run({ signal: controller.signal });
    expect(stopped.stopped).toBe(true);
    expect(stopped.globalStep).toBe(N);
    const ckpt = join(first.config.outputDir, `checkpoint-${N}`);
    for (const f of ["model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json", "tokenizer.json"]) expect(existsSync(join(ckpt, f)), f).toBe(true);

    const resumed = await cptRun({ maxSteps: 2 * N, saveSteps: N, outputDir: first.config.outputDir, resumeFromCheckpoint: ckpt });
    await resumed.trainer.run();
    const want = stepLosses(full.events).slice(N);
    const got = stepLosses(resumed.events);
    expect(got).toHaveLength(N);
    got.forEach((l, i) => expect(Math.abs(l - want[i]!)).toBeLessThan(1e-6));
  });
});

describe("gradient accumulation", () => {
  it("4 micro-batches of 2 give the same update as one batch of 8 (padded rows of different lengths)", async () => {
    // SGD with lr 1: the parameter change is the accumulated gradient itself.
    const common = { maxSteps: 1, shuffle: false, packing: false, maxSeqLength: 40, learningRate: 1, maxGradNorm: 0, optim: "sgd", lrSchedulerType: "constant" } as const;
    const a = await cptRun({ ...common, perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 1, dataFiles: [jsonlOfLines()] });
    const b = await cptRun({ ...common, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 4, dataFiles: [jsonlOfLines()] });
    const lengths = a.container.get<F.TrainDataset>(F.TrainDataset).examples.slice(0, 8).map((e) => e.inputIds.length);
    expect(new Set(lengths).size).toBeGreaterThan(3);
    await a.trainer.run();
    await b.trainer.run();
    expect(Math.abs(stepLosses(a.events)[0]! - stepLosses(b.events)[0]!)).toBeLessThan(1e-5);
    for (const n of a.policy.lm.params.names) {
      const pa = a.policy.lm.params.get(n);
      const pb = b.policy.lm.params.get(n);
      let worst = 0;
      for (let i = 0; i < pa.length; i++) worst = Math.max(worst, Math.abs(pa[i]! - pb[i]!));
      expect(worst, n).toBeLessThan(1e-6);
    }
  });
});

describe("seams", () => {
  it("a user-bound Optimizer replaces AdamW", async () => {
    const r = await cptRun({ maxSteps: 3 });
    const calls: number[] = [];
    const sgd = new F.SGD([{ params: r.policy.trainable.names, lr: 0.05 }]);
    const recording: F.Optimizer = {
      get groups() {
        return sgd.groups;
      },
      get stepCount() {
        return sgd.stepCount;
      },
      step: (p, g, f) => {
        calls.push(f ?? 1);
        sgd.step(p, g, f);
      },
      stateDict: () => sgd.stateDict(),
      loadStateDict: (s) => sgd.loadStateDict(s),
    };
    r.container.rebindSync<F.Optimizer>(F.Optimizer).toConstantValue(recording);
    const before = Float32Array.from(r.policy.lm.params.get("model.norm.weight"));
    await r.container.get<F.DefaultTrainer>(F.Trainer).run();
    expect(calls).toHaveLength(3);
    expect(r.policy.lm.params.get("model.norm.weight")).not.toEqual(before);
  });

  it("a NaN gradient stops training with a message and keeps the last good checkpoint", async () => {
    const r = await cptRun({ maxSteps: 6, saveSteps: 2 });
    const inner = r.container.get<F.Objective>(F.Objective);
    let calls = 0;
    r.container.rebindSync<F.Objective>(F.Objective).toConstantValue({
      countItems: (e) => inner.countItems(e),
      evalStep: (e) => inner.evalStep(e),
      microStep: async (e, n, rng) => {
        const res = await inner.microStep(e, n, rng);
        if (++calls === 3) res.grads.get("model.norm.weight")![0] = NaN;
        return res;
      },
    });
    await expect(r.container.get<F.DefaultTrainer>(F.Trainer).run()).rejects.toThrow(/training stopped at step 3: gradient norm is NaN.*checkpoint-2/);
    expect(existsSync(join(r.config.outputDir, "checkpoint-2", "model.safetensors"))).toBe(true);
    expect(r.events.at(-1)!.type).toBe("error");
    const norm = r.policy.lm.params.get("model.norm.weight");
    expect(norm.every(Number.isFinite)).toBe(true);
  });
});

/** JSONL of single Shakespeare lines (documents of varied length, no packing). */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { SHARED } from "./helpers/cli.js";
function jsonlOfLines(): string {
  const lines = readFileSync(join(SHARED, "data/tinyshakespeare/input.txt"), "utf8").split("\n").filter((l) => l.trim().length > 3).slice(0, 8);
  const path = join(mkdtempSync(join(tmpdir(), "ortrl-lines-")), "lines.jsonl");
  writeFileSync(path, lines.map((text) => JSON.stringify({ text })).join("\n"));
  return path;
}

describe("Sampler seam", () => {
  it("generates from the policy's current weights", async () => {
    const r = await cptRun({ maxSteps: 1 });
    const sampler = r.container.get<F.Sampler>(F.Sampler);
    const a = await sampler.generate([[1], [1, 403]], { maxNewTokens: 8, temperature: 0 });
    expect(a.completions.map((c) => c.length)).toEqual([8, 8]);
    await r.trainer.run();
    const b = await sampler.generate([[1], [1, 403]], { maxNewTokens: 8, temperature: 0 });
    expect(b.completions).toHaveLength(2);
  });
});

describe("resume checks the checkpoint was trained the same way", () => {
  it("another LoRA config, LoRA into full or full into LoRA is an error naming the field", async () => {
    const first = await cptRun({ maxSteps: 2, saveSteps: 2, lora: { r: 4, loraAlpha: 8, targetModules: "all-linear" } });
    await first.trainer.run();
    const ck = join(first.config.outputDir, "checkpoint-2");
    const resume = async (lora: Partial<F.LoraConfig> | undefined) => (await cptRun({ maxSteps: 4, resumeFromCheckpoint: ck, outputDir: first.config.outputDir, lora })).trainer.run();
    await expect(resume({ r: 4, loraAlpha: 16, targetModules: "all-linear" })).rejects.toThrow(/adapter_config\.json: lora_alpha is 8 but this run's is 16; resume with the checkpoint's LoRA options \(r 4, lora_alpha 8, target_modules "all-linear"\)/);
    await expect(resume({ r: 4, loraAlpha: 8 })).rejects.toThrow(/target_modules \(adapted layers\) is/);
    await expect(resume({ r: 8, loraAlpha: 8, targetModules: "all-linear" })).rejects.toThrow(/r is 4 but this run's is 8/);
    await expect(resume(undefined)).rejects.toThrow(/holds a LoRA adapter \(r 4, lora_alpha 8.*\) but this run trains all parameters/);
    const full = await cptRun({ maxSteps: 2, saveSteps: 2 });
    await full.trainer.run();
    const fullCk = join(full.config.outputDir, "checkpoint-2");
    const asLora = await cptRun({ maxSteps: 4, resumeFromCheckpoint: fullCk, outputDir: full.config.outputDir, lora: { r: 4 } });
    await expect(asLora.trainer.run()).rejects.toThrow(/holds a full model \(no adapter_config\.json\) but this run trains a LoRA adapter/);
  });
});

describe("event subscribers", () => {
  it("a subscriber that throws does not stop training; it becomes a warning", async () => {
    const r = await cptRun({ maxSteps: 2 });
    r.container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe(() => {
      throw new Error("my dashboard is down");
    });
    const warnings: string[] = [];
    const onWarn = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarn);
    try {
      const result = await r.trainer.run();
      await new Promise((res) => setTimeout(res, 50));
      expect(result.globalStep).toBe(2);
    } finally {
      process.off("warning", onWarn);
    }
    expect(warnings.some((w) => /a training-event subscriber threw \(training continues\): my dashboard is down/.test(w))).toBe(true);
  });
});
