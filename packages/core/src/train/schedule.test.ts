/**
 * Learning-rate multipliers against transformers' get_scheduler (optimization.py), computed by hand:
 *   get_linear_schedule_with_warmup:     k < W ? k / max(1, W) : max(0, (T - k) / max(1, T - W))
 *   get_cosine_schedule_with_warmup:     k < W ? k / max(1, W) : max(0, 0.5 (1 + cos(pi * 2 * 0.5 * (k - W) / max(1, T - W))))
 *   get_constant_schedule_with_warmup:   k < W ? k / max(1, W) : 1
 *   get_constant_schedule:               1 (get_scheduler ignores warm-up for "constant")
 * and TrainingArguments.get_warmup_steps: warmup_steps if > 0 else math.ceil(T * warmup_ratio).
 */
import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { LrSchedulerType, TrainingArguments } from "./args.js";
import { resolveTrainingArgs } from "./args.js";
import { createTrainingContainer } from "./plugin.js";
import { makeScheduler, warmupStepsFor } from "./schedule.js";
import { LrScheduler, type Policy } from "./seams.js";
import { TrainDataset } from "./contract.js";

const factors = (type: LrSchedulerType, T: number, W: number, upTo = T) => Array.from({ length: upTo + 1 }, (_, k) => makeScheduler(type, T, W).factor(k));

const expectClose = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!), `k=${i}: got ${g}, want ${want[i]}`).toBeLessThan(1e-9));
};

describe("makeScheduler: total 10 steps, warm-up 2 (factors at k = 0..10)", () => {
  it("linear", () => {
    // 0/2, 1/2, then (10 - k) / 8
    expectClose(factors("linear", 10, 2), [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0]);
  });
  it("cosine (num_cycles 0.5)", () => {
    // 0.5 (1 + cos(pi (k - 2) / 8)) for k >= 2; cos(pi/8) = 0.92387953251, cos(pi/4) = 0.70710678119, cos(3pi/8) = 0.38268343237
    expectClose(factors("cosine", 10, 2), [
      0, 0.5, 1, 0.9619397662556434, 0.8535533905932737, 0.6913417161825449, 0.5, 0.30865828381745514, 0.14644660940672627, 0.03806023374435663, 0,
    ]);
  });
  it("constant ignores warm-up", () => {
    expectClose(factors("constant", 10, 2), Array(11).fill(1));
  });
  it("constant_with_warmup", () => {
    expectClose(factors("constant_with_warmup", 10, 2), [0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});

describe("makeScheduler: edge cases", () => {
  it("without warm-up the first step uses the full rate", () => {
    expectClose(factors("linear", 4, 0), [1, 0.75, 0.5, 0.25, 0]);
    expectClose(factors("cosine", 4, 0), [1, 0.8535533905932737, 0.5, 0.14644660940672627, 0]);
    expectClose(factors("constant_with_warmup", 3, 0), [1, 1, 1, 1]);
  });
  it("warm-up of 3 steps divides by W, not W - 1", () => {
    expectClose(factors("linear", 6, 3), [0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0]);
  });
  it("warm-up covering every step: max(1, T - W) avoids a division by zero", () => {
    expectClose(factors("linear", 2, 2), [0, 0.5, 0]);
    expectClose(factors("cosine", 2, 2), [0, 0.5, 1]);
  });
  it("a single step: linear and cosine start at 1", () => {
    expect(makeScheduler("linear", 1, 0).factor(0)).toBe(1);
    expect(makeScheduler("cosine", 1, 0).factor(0)).toBe(1);
  });
  it("linear never goes negative past the last step", () => {
    expect(makeScheduler("linear", 10, 2).factor(12)).toBe(0);
  });
});

describe("warmupStepsFor", () => {
  it("warmup_steps wins over warmup_ratio", () => {
    expect(warmupStepsFor(100, 7, 0.5)).toBe(7);
  });
  it("rounds warmup_ratio * total up (math.ceil)", () => {
    expect(warmupStepsFor(10, 0, 0.25)).toBe(3); // ceil(2.5)
    expect(warmupStepsFor(10, 0, 0.2)).toBe(2); // exactly 2
    expect(warmupStepsFor(7, 0, 0.1)).toBe(1); // ceil(0.7)
    // Python: math.ceil(100 * 0.07) == 8, since 100 * 0.07 == 7.000000000000001 in IEEE doubles.
    expect(warmupStepsFor(100, 0, 0.07)).toBe(8);
    expect(warmupStepsFor(10, 0, 0)).toBe(0);
  });
});

describe("the core LrScheduler binding", () => {
  /** The scheduler createTrainingContainer builds for `n` examples and these arguments. */
  const bound = (n: number, args: Partial<TrainingArguments>) => {
    const a = resolveTrainingArgs({ outputDir: "/nonexistent", ...args });
    const c = createTrainingContainer({ policy: {} as Policy, args: a });
    c.bind<TrainDataset>(TrainDataset).toConstantValue({ examples: Array.from({ length: n }, () => ({ inputIds: [1, 2], labels: [1, 2] })) });
    return c.get<LrScheduler>(LrScheduler);
  };
  it("uses the planned steps (epochs x ceil(ceil(n / batch) / accumulation)) and the warm-up ratio", () => {
    // 19 examples, batch 2 -> 10 micro-batches, accumulation 2 -> 5 steps/epoch, 2 epochs -> T = 10;
    // warm-up ceil(0.2 * 10) = 2: the 10/2 schedule above.
    const s = bound(19, { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, numTrainEpochs: 2, warmupRatio: 0.2, lrSchedulerType: "linear" });
    expectClose(Array.from({ length: 11 }, (_, k) => s.factor(k)), [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0]);
  });
  it("maxSteps overrides epochs", () => {
    const s = bound(1000, { maxSteps: 4, lrSchedulerType: "cosine", warmupSteps: 0 });
    expectClose([0, 1, 2, 3, 4].map((k) => s.factor(k)), [1, 0.8535533905932737, 0.5, 0.14644660940672627, 0]);
  });
});
