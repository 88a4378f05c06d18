/** SftConfig defaults (TRL SFTConfig) and validation naming the field. */
import { describe, expect, it } from "vitest";
import { SFT_DEFAULTS, resolveSftConfig } from "./sft-config.js";
import { sftPlugin } from "./sft-plugin.js";

const base = { outputDir: "/tmp/out", dataFiles: ["a.jsonl"] };

describe("resolveSftConfig", () => {
  it("fills TRL's SFT defaults", () => {
    const c = resolveSftConfig(base);
    expect(c.learningRate).toBe(2e-5);
    expect(c).toMatchObject({ maxSeqLength: 1024, packing: false, completionOnlyLoss: null, assistantOnlyLoss: false, chatTemplate: null, datasetTextField: "text", evalHoldout: 0, loggingSteps: 10 });
    expect(sftPlugin.defaults).toBe(SFT_DEFAULTS);
    expect(sftPlugin.name).toBe("sft");
  });
  it("names the field of an invalid value", () => {
    expect(() => resolveSftConfig({ outputDir: "/tmp/out" }, "cfg.yaml")).toThrow(/^cfg\.yaml: dataFiles must list at least one training file$/);
    expect(() => resolveSftConfig({ ...base, maxSeqLength: 1 })).toThrow(/maxSeqLength must be an integer >= 2, got 1/);
    expect(() => resolveSftConfig({ ...base, evalHoldout: 1 })).toThrow(/evalHoldout must be in \[0, 1\), got 1/);
    expect(() => resolveSftConfig({ ...base, completionOnlyLoss: "yes" as never })).toThrow(/completionOnlyLoss must be true, false or null/);
    expect(() => resolveSftConfig({ ...base, datasetTextField: "" })).toThrow(/datasetTextField must be a non-empty field name/);
    expect(() => resolveSftConfig({ ...base, learningRate: -1 })).toThrow(/learningRate must be >= 0/);
  });
});
