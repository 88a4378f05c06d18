/**
 * DPO parity with the PyTorch reference (../shared/fixtures/tiny-llama dpo.*): one preference pair
 * (prompt 5 ids, completions of 6), policy = base + adapter, reference = base. Log-probs, losses,
 * rewards and margins within 1e-4 relative; every dpo_grad.* tensor within 1e-3 relative. The
 * variants without golden values (cDPO, robust) are checked against their formulas evaluated in
 * float64 on the reference's log-probs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { compareArrays, openFixtureTensors, readExpectedJson, TINY_LLAMA_DIR } from "@ortrl/core/testing";
import { DPO_DEFAULTS, type DpoConfig, type DpoLossType } from "./dpo-config.js";
import type { DpoExample } from "./dpo-data.js";
import { DpoObjective } from "./dpo-objective.js";

const exp = readExpectedJson("tiny-llama");
const rel = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
const prompt: number[] = exp["dpo.prompt_ids"];
const pair: DpoExample = {
  promptIds: prompt,
  chosenIds: (exp["dpo.chosen_ids"] as number[]).slice(prompt.length),
  rejectedIds: (exp["dpo.rejected_ids"] as number[]).slice(prompt.length),
};
const beta: number = exp["dpo.beta"];

let policy: F.CausalLmPolicy;
const objective = (lossType: DpoLossType, labelSmoothing = 0) => {
  const config = { ...DPO_DEFAULTS, outputDir: "/nonexistent", beta, lossType, labelSmoothing } as DpoConfig;
  return new DpoObjective(policy, new F.CausalLmReference(policy.lm.withoutAdapter(), "base"), config, 0);
};

beforeAll(async () => {
  const m = await F.loadPretrained(`${TINY_LLAMA_DIR}model`, new F.Runtime({ intraOpNumThreads: 1 }));
  const adapter = F.loadPeftAdapter(`${TINY_LLAMA_DIR}adapter`, m.config, m.lm.params);
  policy = new F.CausalLmPolicy(m.lm, m.config, new F.ByteTokenizer(), adapter, null);
});

describe("DPO on the reference pair", () => {
  it("sigmoid: loss, log-probs, rewards and margins match", async () => {
    const r = await objective("sigmoid").evalStep([pair]);
    expect(r.count).toBe(1);
    expect(rel(r.lossSum, exp["dpo.loss_sigmoid"])).toBeLessThan(1e-4);
    const m = r.metrics!;
    expect(rel(m["logps/chosen"]!, exp["dpo.policy_chosen_logps"])).toBeLessThan(1e-4);
    expect(rel(m["logps/rejected"]!, exp["dpo.policy_rejected_logps"])).toBeLessThan(1e-4);
    expect(rel(m["rewards/chosen"]!, exp["dpo.rewards_chosen"])).toBeLessThan(1e-4);
    expect(rel(m["rewards/rejected"]!, exp["dpo.rewards_rejected"])).toBeLessThan(1e-4);
    expect(rel(m["rewards/margins"]!, exp["dpo.rewards_margins"])).toBeLessThan(1e-4);
    expect(m["rewards/accuracies"]).toBe(1);
    expect(Number.isFinite(m["logits/chosen"]) && Number.isFinite(m["logits/rejected"])).toBe(true);
  });

  it("ipo (per-token average log-probs) and hinge losses match", async () => {
    expect(rel((await objective("ipo").evalStep([pair])).lossSum, exp["dpo.loss_ipo"])).toBeLessThan(1e-4);
    expect(rel((await objective("hinge").evalStep([pair])).lossSum, exp["dpo.loss_hinge"])).toBeLessThan(1e-4);
    // IPO logs the averaged log-probs, as TRL does.
    const m = (await objective("ipo").evalStep([pair])).metrics!;
    expect(rel(m["logps/chosen"]!, exp["dpo.policy_chosen_logps"] / 6)).toBeLessThan(1e-4);
  });

  it("cDPO and robust DPO follow their formulas (float64 on the reference log-probs)", async () => {
    const h = exp["dpo.policy_chosen_logps"] - exp["dpo.reference_chosen_logps"] - (exp["dpo.policy_rejected_logps"] - exp["dpo.reference_rejected_logps"]);
    const logSig = (x: number) => -Math.log1p(Math.exp(-x));
    const eps = 0.1;
    const cdpo = -(1 - eps) * logSig(beta * h) - eps * logSig(-beta * h);
    const robust = (-(1 - eps) * logSig(beta * h) + eps * logSig(-beta * h)) / (1 - 2 * eps);
    expect(rel((await objective("sigmoid", eps).evalStep([pair])).lossSum, cdpo)).toBeLessThan(1e-4);
    expect(rel((await objective("robust", eps).evalStep([pair])).lossSum, robust)).toBeLessThan(1e-4);
  });

  it("gradients of every lora_A / lora_B match dpo_grad.*", async () => {
    const r = await objective("sigmoid").microStep([pair], 1, new F.Rng(0));
    expect(rel(r.lossSum, exp["dpo.loss_sigmoid"])).toBeLessThan(1e-4);
    const want = openFixtureTensors("tiny-llama");
    try {
      expect(r.grads.size).toBe(28);
      for (const [n, g] of r.grads) expect(compareArrays(g, want.readFloat32(`dpo_grad.base_model.model.${n}`), 1e-3, 1e-7), n).toBeNull();
    } finally {
      want.close();
    }
  });
});
