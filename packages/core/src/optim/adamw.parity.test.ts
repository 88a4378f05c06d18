/**
 * One full-parameter AdamW step on the tiny Llama (fixture batch, lr 0.01, betas (0.9, 0.999),
 * eps 1e-8, weight decay 0.01 on every tensor, as torch.optim.AdamW(model.parameters())) gives the
 * reference `after_adamw.*` parameters (|d| <= 1e-4) and `lm.loss_after_adamw` (1e-4 relative).
 */
import { describe, expect, it } from "vitest";
import { Runtime } from "../runtime/runtime.js";
import { compareArrays, openFixtureTensors, readExpectedJson, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { loadPretrained } from "../model/pretrained.js";
import { padBatch } from "../model/batch.js";
import { CausalLmObjective } from "../train/objective.js";
import { CausalLmPolicy } from "../train/policy.js";
import { Rng } from "../util/rng.js";
import { AdamW } from "./adamw.js";

describe("AdamW step parity", () => {
  it("matches torch.optim.AdamW on tiny-llama", async () => {
    const exp = readExpectedJson("tiny-llama");
    const m = await loadPretrained(`${TINY_LLAMA_DIR}model`, new Runtime());
    const policy = new CausalLmPolicy(m.lm, m.config, { padTokenId: 0 } as never, null, null);
    const objective = new CausalLmObjective(policy, 0);
    const masks: number[][] = exp["batch.attention_mask"];
    const examples = (exp["batch.input_ids"] as number[][]).map((ids, i) => {
      const n = masks[i]!.reduce((a, b) => a + b, 0);
      return { inputIds: ids.slice(0, n), labels: (exp["batch.labels"] as number[][])[i]!.slice(0, n) };
    });
    const items = examples.reduce((s, e) => s + objective.countItems(e), 0);
    const r = await objective.microStep(examples, items, new Rng(0));
    expect(Math.abs(r.lossSum / items - exp["lm.loss"])).toBeLessThan(1e-4 * exp["lm.loss"]);
    const h = exp.adamw;
    const opt = new AdamW([{ params: m.lm.params.names, lr: h.lr, weightDecay: h.weight_decay }], { betas: [h.beta1, h.beta2], eps: h.eps });
    opt.step(m.lm.params, r.grads);
    const want = openFixtureTensors("tiny-llama");
    for (const n of m.lm.params.names) expect(compareArrays(m.lm.params.get(n), want.readFloat32(`after_adamw.${n}`), 0, 1e-4), n).toBeNull();
    const after = await m.lm.lossSum(padBatch(examples.map((e) => e.inputIds), { labels: examples.map((e) => e.labels) }));
    expect(Math.abs(after.lossSum / after.count - exp["lm.loss_after_adamw"])).toBeLessThan(1e-4 * exp["lm.loss_after_adamw"]);
  });
});
