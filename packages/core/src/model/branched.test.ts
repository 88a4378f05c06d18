/**
 * Branched rows (shared prompt, tree attention, LM head on scored positions only) score each branch
 * exactly as the separate sequence prompt + branch would: against the PyTorch reference's DPO
 * log-probs on tiny-llama, and against the plain forward on stories260K with uneven rows and padding.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../runtime/runtime.js";
import { STORIES_DIR, TINY_LLAMA_DIR, readExpectedJson } from "../testing/fixtures.js";
import { type PretrainedModel, loadPretrained } from "./pretrained.js";
import { padBatch } from "./batch.js";
import { branchSums, branchValues, collateBranched, packedTokens } from "./branched.js";
import { attachAdapterFromDir } from "../lora/peft-io.js";
import { Rng } from "../util/rng.js";

const runtime = new Runtime({ intraOpNumThreads: 1 });
const exp = readExpectedJson("tiny-llama");
const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe("collateBranched", () => {
  it("lays out prefix and branches with tree segments, restarting positions, and predictor indices", () => {
    const sb = collateBranched([{ prefix: [1, 5], branches: [[7, 8, 9], [4]] }, { prefix: [1], branches: [[3], [6, 2]] }], 0);
    expect(sb.batch.seqLen).toBe(6);
    expect(sb.numScored).toBe(4);
    expect(Array.from(sb.batch.inputIds, Number)).toEqual([1, 5, 7, 8, 9, 4, 1, 3, 6, 2, 0, 0]);
    expect(Array.from(sb.batch.attentionMask, Number)).toEqual([1, 1, 2, 2, 2, 3, 1, 2, 3, 3, 0, 0]);
    expect(Array.from(sb.batch.prefixSegments, Number)).toEqual([0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
    expect(Array.from(sb.batch.positionIds, Number)).toEqual([0, 1, 2, 3, 4, 2, 0, 1, 1, 2, 0, 0]);
    // Branch token i is predicted from the position before it; the first from the last prefix token.
    expect(Array.from(sb.scoreIndex, Number)).toEqual([1, 2, 3, 1, 0, 0, 2, 0]);
    expect(Array.from(sb.scoreTargets, Number)).toEqual([7, 8, 9, 4, 3, 6, 2, -100]);
    expect(sb.spans).toEqual([[[0, 3], [3, 4]], [[0, 1], [1, 3]]]);
    expect(packedTokens(sb)).toBe(10);
  });
  it("rejects an empty prefix, no branches and an empty branch", () => {
    expect(() => collateBranched([{ prefix: [], branches: [[1]] }], 0)).toThrow(/row 0 has an empty prefix/);
    expect(() => collateBranched([{ prefix: [1], branches: [] }], 0)).toThrow(/row 0 has no branches/);
    expect(() => collateBranched([{ prefix: [1], branches: [[2], []] }], 0)).toThrow(/row 0 branch 1 is empty/);
  });
});

describe("scoring a preference pair on tiny-llama (PyTorch reference)", () => {
  let m: PretrainedModel;
  beforeAll(async () => {
    m = await loadPretrained(`${TINY_LLAMA_DIR}model`, runtime);
  });
  it("policy (base + adapter) and reference (base) completion log-prob sums match dpo.*", async () => {
    const prompt: number[] = exp["dpo.prompt_ids"];
    const chosen = (exp["dpo.chosen_ids"] as number[]).slice(prompt.length);
    const rejected = (exp["dpo.rejected_ids"] as number[]).slice(prompt.length);
    const sb = collateBranched([{ prefix: prompt, branches: [chosen, rejected] }], 0);
    const { lm: policy } = await attachAdapterFromDir(m.lm, `${TINY_LLAMA_DIR}adapter`);
    const [[pc, pr]] = branchSums(await policy.scoreLogps(sb), sb) as [[number, number]];
    const [[rc, rr]] = branchSums(await policy.withoutAdapter().scoreLogps(sb), sb) as [[number, number]];
    expect(rel(pc, exp["dpo.policy_chosen_logps"])).toBeLessThan(1e-4);
    expect(rel(pr, exp["dpo.policy_rejected_logps"])).toBeLessThan(1e-4);
    expect(rel(rc, exp["dpo.reference_chosen_logps"])).toBeLessThan(1e-4);
    expect(rel(rr, exp["dpo.reference_rejected_logps"])).toBeLessThan(1e-4);
  });
});

describe("branched scoring equals separate sequences (stories260K)", () => {
  it("per-token log-probs of every branch, uneven rows with padding", async () => {
    const m = await loadPretrained(STORIES_DIR, runtime);
    const rng = new Rng(3);
    const ids = (n: number) => Array.from({ length: n }, () => rng.int(3, 512));
    const rows = [
      { prefix: [1, ...ids(6)], branches: [ids(5), ids(9), ids(2)] },
      { prefix: [1, ...ids(2)], branches: [ids(3)] },
      { prefix: [1], branches: [ids(4), ids(4)] },
    ];
    const sb = collateBranched(rows, 0);
    const got = branchValues(await m.lm.scoreLogps(sb), sb);
    for (const [r, row] of rows.entries()) {
      for (const [j, branch] of row.branches.entries()) {
        const seq = [...row.prefix, ...branch];
        const labels = seq.map((t, i) => (i < row.prefix.length ? -100 : t));
        const all = await m.lm.tokenLogps(padBatch([seq], { labels: [labels] }));
        const want = all.slice(row.prefix.length - 1);
        expect(got[r]![j]!.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[r]![j]![i]! - want[i]!), `row ${r} branch ${j} token ${i}`).toBeLessThan(2e-5);
      }
    }
  });
});

describe("scoring at a temperature", () => {
  it("divides the logits before the softmax (TRL's GRPO scores completions at the sampling temperature)", async () => {
    const m = await loadPretrained(STORIES_DIR, runtime);
    const seq = [1, 45, 67, 89, 120, 33];
    const sb = collateBranched([{ prefix: seq.slice(0, 3), branches: [seq.slice(3)] }], 0);
    const got = await m.lm.scoreLogps(sb, { temperature: 2 });
    const logits = await m.lm.logits(padBatch([seq]));
    const V = 512;
    for (let i = 0; i < 3; i++) {
      const row = Array.from(logits.slice((2 + i) * V, (3 + i) * V), (x) => x / 2);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
      expect(Math.abs(got[i]! - (row[seq[3 + i]!]! - lse))).toBeLessThan(2e-5);
    }
  });
});
