/** Built-in rewards, reward specs, scoring checks and group advantages. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { accuracyReward, formatReward, goldAnswer, lastNumber, resolveRewards } from "./rewards.js";

const args = (completions: (string | F.ChatMessage[])[], columns: Record<string, unknown[]> = {}): F.RewardArgs => ({
  prompts: completions.map(() => "p"),
  completions,
  completionIds: completions.map(() => [1]),
  ...columns,
});

describe("built-in rewards", () => {
  it("accuracy reads GSM8K's #### answer and the completion's last number", async () => {
    expect(goldAnswer("She sold 48/2 = 24 clips.\n#### 72")).toBe("72");
    expect(lastNumber("so 1,000 - 2.5 = 997.5 apples")).toBe(997.5);
    const a = args(["The answer is 72.", "I think 71, no 72", "72 or 73", "none", [{ role: "assistant", content: "= 1,000" }]], { answer: ["#### 72", "#### 72", "#### 72", "#### 72", "#### 1000"] });
    expect(await accuracyReward(a)).toEqual([1, 1, 0, 0, 1]);
    expect(await accuracyReward(args(["x\nParis"], { solution: ["Paris"] }))).toEqual([1]);
    expect(() => accuracyReward(args(["1"]))).toThrow(/needs an 'answer' or 'solution' column/);
  });
  it("format matches a regular expression", async () => {
    expect(await formatReward("^<think>[\\s\\S]*?</think>")(args(["<think>hmm\n</think> 4", "4"]))).toEqual([1, 0]);
  });
});

describe("reward specs", () => {
  it("names functions, applies weights and loads FILE:exportName (.ts without a build step)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-rw-"));
    writeFileSync(join(dir, "r.ts"), "export const len = ({ completions }: { completions: string[] }): number[] => completions.map((c) => c.length);\n");
    const named = function myReward() {
      return [1];
    };
    const r = await resolveRewards(["accuracy", `${join(dir, "r.ts")}:len`, named, { name: "custom", fn: () => [0], weight: 3 }], [1, 2, 0.5, 4], { formatPattern: "x" });
    expect(r.map((x) => [x.name, x.weight])).toEqual([["accuracy", 1], ["len", 2], ["myReward", 0.5], ["custom", 4]]);
    expect(await r[1]!.fn(args(["abc"]))).toEqual([3]);
    await expect(resolveRewards(["accuracy", "accuracy"], null, { formatPattern: "x" })).rejects.toThrow(/two are named 'accuracy'/);
  });
});

describe("scoreCompletions", () => {
  it("sums weighted functions, skipping nulls; all-null rows get 0", async () => {
    const s = await F.scoreCompletions(
      [{ name: "a", fn: () => [1, null, null], weight: 2 }, { name: "b", fn: async () => [0.5, 1, null] }],
      args(["x", "y", "z"]),
      3,
    );
    expect(Array.from(s.total)).toEqual([2.5, 1, 0]);
    expect(s.allNull).toBe(1);
  });
  it("names the function, step and first bad index", async () => {
    const run = (fn: F.RewardFn) => F.scoreCompletions([{ name: "f", fn }], args(["x", "y"]), 4);
    await expect(run(() => [1, Infinity])).rejects.toThrow(/reward function 'f' returned Infinity at index 1 \(step 4\)/);
    await expect(run(() => [1, undefined as never])).rejects.toThrow(/returned undefined at index 1 \(step 4\)/);
    await expect(run(() => 3 as never)).rejects.toThrow(/returned number at step 4; expected an array of 2 numbers/);
  });
});

describe("groupAdvantages", () => {
  it("subtracts the group mean and divides by the group's, the batch's or no std", () => {
    const r = [1, 0, 0.5, 0, 2, 2, 2, 2];
    const g = F.groupAdvantages(r, 4, "group");
    expect(g.groupStd[1]).toBe(0);
    expect(Array.from(g.advantages.slice(4))).toEqual([0, 0, 0, 0]);
    expect(g.advantages[0]).toBeCloseTo(0.625 / (F.unbiasedStd([1, 0, 0.5, 0]) + 1e-4), 12);
    expect(F.groupAdvantages(r, 4, "none").advantages[0]).toBeCloseTo(0.625, 12);
    expect(F.groupAdvantages(r, 4, "batch").advantages[0]).toBeCloseTo(0.625 / (F.unbiasedStd(r) + 1e-4), 12);
    expect(() => F.groupAdvantages([1, 2, 3], 2, "group")).toThrow(/do not split into groups of 2/);
  });
});
