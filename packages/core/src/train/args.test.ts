/**
 * resolveTrainingArgs: transformers.TrainingArguments defaults (TRL's logging_steps 10), and
 * validation errors that name the source and the field.
 */
import { describe, expect, it } from "vitest";
import { TRAINING_DEFAULTS, type TrainingArguments, resolveTrainingArgs } from "./args.js";

const resolve = (p: Partial<TrainingArguments>, source?: string) => resolveTrainingArgs({ outputDir: "out", ...p }, source);

describe("defaults", () => {
  it("are transformers' TrainingArguments defaults", () => {
    const a = resolve({});
    expect(a).toEqual({
      outputDir: "out",
      learningRate: 5e-5,
      embeddingLearningRate: null,
      numTrainEpochs: 3,
      maxSteps: -1,
      perDeviceTrainBatchSize: 8,
      perDeviceEvalBatchSize: 8,
      gradientAccumulationSteps: 1,
      lrSchedulerType: "linear",
      warmupSteps: 0,
      warmupRatio: 0,
      weightDecay: 0,
      adamBeta1: 0.9,
      adamBeta2: 0.999,
      adamEpsilon: 1e-8,
      optim: "adamw_torch",
      sgdMomentum: 0,
      maxGradNorm: 1,
      loggingSteps: 10, // TRL's default (transformers: 500)
      evalOnStart: false,
      evalSteps: null,
      saveSteps: 500,
      saveTotalLimit: null,
      seed: 42,
      resumeFromCheckpoint: null,
      shuffle: true,
      saveMerged: false,
      generateEvery: null,
      generatePrompts: null,
      generateMaxNewTokens: 64,
      acceptChangedArgs: false,
    });
  });
  it("given values win; undefined values do not erase defaults", () => {
    const a = resolve({ learningRate: 1e-3, maxSteps: undefined, seed: 7, evalSteps: 5, lrSchedulerType: "cosine" });
    expect([a.learningRate, a.maxSteps, a.seed, a.evalSteps, a.lrSchedulerType]).toEqual([1e-3, -1, 7, 5, "cosine"]);
  });
  it("a method's own defaults replace the common ones (e.g. SFT's learning rate)", () => {
    const a = resolveTrainingArgs({ outputDir: "out" }, "sft config", { ...TRAINING_DEFAULTS, learningRate: 2e-5 });
    expect(a.learningRate).toBe(2e-5);
    expect(resolveTrainingArgs({ outputDir: "out", learningRate: 1e-4 }, "sft config", { ...TRAINING_DEFAULTS, learningRate: 2e-5 }).learningRate).toBe(1e-4);
  });
  it("does not mutate the defaults", () => {
    resolve({ learningRate: 1 });
    expect(TRAINING_DEFAULTS.learningRate).toBe(5e-5);
  });
});

describe("validation", () => {
  const cases: [Partial<TrainingArguments>, RegExp][] = [
    [{ outputDir: "" }, /outputDir is required/],
    [{ perDeviceTrainBatchSize: 0 }, /perDeviceTrainBatchSize must be a positive integer, got 0/],
    [{ perDeviceTrainBatchSize: 1.5 }, /perDeviceTrainBatchSize must be a positive integer, got 1\.5/],
    [{ perDeviceEvalBatchSize: 0 }, /perDeviceEvalBatchSize must be a positive integer/],
    [{ gradientAccumulationSteps: 0 }, /gradientAccumulationSteps must be a positive integer/],
    [{ loggingSteps: 0 }, /loggingSteps must be a positive integer/],
    [{ learningRate: -1e-5 }, /learningRate must be >= 0, got -0\.00001/],
    [{ learningRate: Number.NaN }, /learningRate must be >= 0, got NaN/],
    [{ embeddingLearningRate: -1 }, /embeddingLearningRate must be >= 0/],
    [{ numTrainEpochs: 0 }, /numTrainEpochs must be > 0, got 0/],
    [{ maxSteps: 0 }, /maxSteps must be a positive integer or -1, or 0 together with evalOnStart \(evaluate only\), got 0/],
    [{ generateEvery: 2 }, /generateEvery needs generatePrompts/],
    [{ generateEvery: 0, generatePrompts: "p.txt" }, /generateEvery must be/],
    [{ maxSteps: -2 }, /maxSteps must be a non-negative integer up to 1000000000 or -1/],
    [{ maxSteps: 2.5 }, /maxSteps must be a non-negative integer up to 1000000000 or -1/],
    [{ lrSchedulerType: "bogus" as never }, /lrSchedulerType must be one of linear, cosine, constant, constant_with_warmup, got bogus/],
    [{ warmupSteps: -1 }, /warmupSteps must be a non-negative integer/],
    [{ warmupSteps: 0.5 }, /warmupSteps must be a non-negative integer/],
    [{ warmupRatio: 1.5 }, /warmupRatio must be in \[0, 1\), got 1\.5/],
    [{ warmupRatio: 1 }, /warmupRatio must be in \[0, 1\)/],
    [{ warmupRatio: -0.1 }, /warmupRatio must be in \[0, 1\)/],
    [{ weightDecay: -0.1 }, /weightDecay must be >= 0/],
    [{ maxGradNorm: -1 }, /maxGradNorm must be >= 0/],
    [{ optim: "adam" as never }, /optim must be adamw_torch or sgd, got adam/],
    [{ evalSteps: 0 }, /evalSteps must be a positive integer/],
    [{ saveSteps: -1 }, /saveSteps must be a non-negative integer/],
    [{ saveSteps: 1.5 }, /saveSteps must be a non-negative integer/],
    [{ saveTotalLimit: 0 }, /saveTotalLimit must be a positive integer/],
    [{ seed: 1.5 }, /seed must be a non-negative integer up to 4294967295, got 1\.5/],
    [{ maxSteps: 1e99 }, /maxSteps must be a non-negative integer up to 1000000000 or -1, got 1e\+99/],
    [{ seed: -1 }, /seed must be a non-negative integer/],
    [{ adamBeta1: 1 }, /adamBeta1 must be in \[0, 1\), got 1/],
    [{ adamBeta2: 1.5 }, /adamBeta2 must be in \[0, 1\), got 1\.5/],
    [{ adamEpsilon: -1 }, /adamEpsilon must be >= 0, got -1/],
    [{ sgdMomentum: 1 }, /sgdMomentum must be in \[0, 1\)/],
  ];
  it.each(cases)("%o is rejected naming the field", (partial, message) => {
    expect(() => resolve(partial, "my.yaml")).toThrow(message);
    // The message starts with the source, then the field.
    expect(() => resolve(partial, "my.yaml")).toThrow(/^my\.yaml: \w+ /);
  });
  it("uses 'training arguments' as the default source", () => {
    expect(() => resolve({ perDeviceTrainBatchSize: 0 })).toThrow(/^training arguments: perDeviceTrainBatchSize /);
  });
  it("accepts the boundary values", () => {
    const a = resolve({ maxSteps: -1, learningRate: 0, warmupRatio: 0.99, saveSteps: 0, maxGradNorm: 0, evalSteps: null, saveTotalLimit: 1, seed: 0, embeddingLearningRate: 0 });
    expect([a.maxSteps, a.warmupRatio, a.saveSteps, a.maxGradNorm, a.saveTotalLimit]).toEqual([-1, 0.99, 0, 0, 1]);
    expect(resolve({ maxSteps: 1, numTrainEpochs: 0.5 }).numTrainEpochs).toBe(0.5);
    expect(resolve({ maxSteps: 0, evalOnStart: true }).maxSteps).toBe(0); // evaluate only
  });
});
