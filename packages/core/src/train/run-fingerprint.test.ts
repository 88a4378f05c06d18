import { describe, expect, it, vi } from "vitest";
import { type RunFingerprint, assertSameRun, compareFingerprints, dataFingerprint, fingerprintArgs, isHarmlessArg } from "./run-fingerprint.js";

const base = (): RunFingerprint => ({
  version: 1,
  model: "m",
  trainable: "t",
  trainable_summary: "2 tensors, 10 parameters",
  data: dataFingerprint([{ inputIds: [1, 2] }, { inputIds: [3] }]),
  num_examples: 2,
  args: fingerprintArgs({ outputDir: "/a", learningRate: 1e-3, loggingSteps: 1, evalSteps: null, saveSteps: 2, maxSteps: 4, seed: 42, dataFiles: ["x.txt"], beta: 0.1 }),
});

describe("run fingerprints", () => {
  it("ignore output paths and data file names (data are compared by content)", () => {
    const a = base();
    expect(a.args).not.toHaveProperty("outputDir");
    expect(a.args).not.toHaveProperty("dataFiles");
    expect(compareFingerprints(a, base())).toEqual([]);
  });

  it("classify cadence and run length as harmless, the math as not", () => {
    for (const k of ["loggingSteps", "evalSteps", "evalHoldout", "saveSteps", "saveTotalLimit", "maxSteps", "numTrainEpochs", "logCompletions"]) expect(isHarmlessArg(k), k).toBe(true);
    for (const k of ["learningRate", "seed", "beta", "perDeviceTrainBatchSize", "gradientAccumulationSteps", "loraR", "evaluate"]) expect(isHarmlessArg(k), k).toBe(false);
  });

  it("list every difference; harmless ones pass only when accepted", () => {
    const now = base();
    now.args.loggingSteps = 5;
    now.args.learningRate = 2e-3;
    now.data = dataFingerprint([{ inputIds: [1, 2] }]);
    now.num_examples = 1;
    const d = compareFingerprints(base(), now);
    expect(d.map((x) => x.what)).toEqual(["the training data differ (2 examples in the checkpoint's run, 1 now)", "learning_rate 0.001 -> 0.002", "logging_steps 1 -> 5"]);
    expect(() => assertSameRun("ck", base(), now, true)).toThrow(/ck was written by a different run: the training data differ .*; learning_rate 0\.001 -> 0\.002\. Resume with/);

    const cadence = base();
    cadence.args.loggingSteps = 5;
    expect(() => assertSameRun("ck", base(), cadence, false)).toThrow(/logging_steps 1 -> 5\. These only change .* --accept-changed-args/);
    expect(assertSameRun("ck", base(), cadence, true).map((x) => x.what)).toEqual(["logging_steps 1 -> 5"]);
  });

  it("a checkpoint without a fingerprint (older ortrl) is resumed with a warning", () => {
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(assertSameRun("old-ck", undefined, base(), false)).toEqual([]);
      expect(String(spy.mock.calls[0]?.[0])).toMatch(/old-ck: no run fingerprint/);
    } finally {
      spy.mockRestore();
    }
  });
});
