/**
 * GRPO parity with the PyTorch reference (../shared/fixtures/tiny-llama grpo.*) through the code path
 * training uses: the rollout (a Sampler that returns the reference's completions, a reward function
 * that returns its rewards) and the objective's micro-step. One prompt, G = 4 completions of 5 tokens
 * (the last ends after 3), policy = base + adapter, reference = base, old log-probs = the policy's
 * (ratio 1). Advantages, loss_grpo / loss_bnpo / loss_dr_grpo and mean_kl within 1e-4 relative;
 * every grpo_grad.* within 1e-3.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { compareArrays, openFixtureTensors, readExpectedJson, TINY_LLAMA_DIR } from "@ortrl/core/testing";
import { GRPO_DEFAULTS, type GrpoConfig, type GrpoLossType } from "./grpo-config.js";
import type { GrpoExample } from "./grpo-data.js";
import { GrpoObjective } from "./grpo-objective.js";

const exp = readExpectedJson("tiny-llama");
const rel = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
const mask: number[][] = exp["grpo.completion_mask"];
const completions = (exp["grpo.completion_ids"] as number[][]).map((ids, i) => ids.slice(0, mask[i]!.reduce((a, b) => a + b, 0)));
const prompt: GrpoExample = { promptIds: exp["grpo.prompt_ids"], prompt: "p", columns: {}, conversational: false };

/** Returns the reference's completions whatever it is asked (row 3 ended with EOS after 3 tokens). */
const fixtureSampler: F.Sampler = {
  generate: async () => ({ completions: completions.map((c) => [...c]), finished: completions.map((c) => c.length < 5) }),
};

let policy: F.CausalLmPolicy;
const objective = (lossType: GrpoLossType) => {
  const config = { ...GRPO_DEFAULTS, outputDir: "/tmp/ortrl-grpo-parity", numGenerations: 4, perDeviceTrainBatchSize: 4, maxCompletionLength: 5, beta: exp["grpo.beta"], epsilon: exp["grpo.epsilon"], lossType, rewardFuncs: [] } as GrpoConfig;
  const rewards = [{ name: "fixture", fn: () => exp["grpo.rewards"] as number[] }];
  return new GrpoObjective({ policy, sampler: fixtureSampler, reference: new F.CausalLmReference(policy.lm.withoutAdapter(), "base"), rewards, config, padId: 0 });
};
const ctx = { step: 1, epoch: 1, rng: new F.Rng(0) };

beforeAll(async () => {
  const m = await F.loadPretrained(`${TINY_LLAMA_DIR}model`, new F.Runtime({ intraOpNumThreads: 1 }));
  policy = new F.CausalLmPolicy(m.lm, m.config, new F.ByteTokenizer(), F.loadPeftAdapter(`${TINY_LLAMA_DIR}adapter`, m.config, m.lm.params), null);
});

describe("GRPO on the reference group", () => {
  it("advantages are group-normalised with the unbiased std (+1e-4)", async () => {
    const { rows, metrics } = await objective("grpo").prepareStep([prompt], ctx);
    rows.forEach((r, i) => expect(rel(r.advantage, exp["grpo.advantages"][i])).toBeLessThan(1e-6));
    expect(metrics!.reward).toBeCloseTo(0.375, 12);
    expect(metrics!["completions/clipped_ratio"]).toBe(0.75);
  });

  for (const [lossType, key] of [["grpo", "grpo.loss_grpo"], ["bnpo", "grpo.loss_bnpo"], ["dr_grpo", "grpo.loss_dr_grpo"]] as const) {
    it(`${lossType}: the step loss and mean KL match`, async () => {
      const o = objective(lossType);
      const { rows } = await o.prepareStep([prompt], ctx);
      const items = rows.reduce((n, r) => n + o.countItems(r), 0);
      const r = await o.microStep(rows, items, new F.Rng(0));
      expect(rel(r.lossSum / items, exp[key])).toBeLessThan(1e-4);
      expect(rel(r.metrics!.kl!, exp["grpo.mean_kl"])).toBeLessThan(1e-4);
      expect(r.metrics!["clip_ratio/region_mean"]).toBe(0);
    });
  }

  it("gradients of every lora_A / lora_B match grpo_grad.* (loss_grpo)", async () => {
    const o = objective("grpo");
    const { rows } = await o.prepareStep([prompt], ctx);
    const r = await o.microStep(rows, 4, new F.Rng(0));
    const want = openFixtureTensors("tiny-llama");
    try {
      expect(r.grads.size).toBe(28);
      for (const [n, g] of r.grads) expect(compareArrays(g, want.readFloat32(`grpo_grad.base_model.model.${n}`), 1e-3, 1e-7), n).toBeNull();
    } finally {
      want.close();
    }
  });
});
