/**
 * ORPO parity with an independent PyTorch reference (scripts/orpo_reference.py, float64, the paper's
 * equations with the odds formed literally as P / (1 - P); each sequence its own forward pass):
 * test-fixtures/orpo-expected.json and orpo-grads.safetensors.
 *
 * - Three pairs of different lengths on ../shared/fixtures/tiny-llama (base + its LoRA adapter) in one
 *   micro-batch (padded, masked): the loss and every TRL metric within 1e-4 relative, every lora_A /
 *   lora_B gradient within 1e-3 relative; the same gradients when the pairs come one per micro-batch.
 * - The loss graph alone on given average log-probs, from -40 up to -1e-9 (P -> 1): per-pair losses,
 *   log odds ratios and d(loss)/d(logp) against the reference; and log(1 - e^a) against float64 for
 *   a in [-80, -1e-12], and finite values and gradients at a = 0.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { ORPO_DEFAULTS } from "./orpo-config.js";
import type { OrpoExample } from "./orpo-data.js";
import { log1mExp, orpoLosses } from "./orpo-loss.js";
import { OrpoObjective } from "./orpo-objective.js";
import { SHARED_DIR as SHARED } from "@ortrl/core/testing";

const TINY = `${SHARED}/fixtures/tiny-llama/`;
const FIXTURES = fileURLToPath(new URL("../test-fixtures/", import.meta.url));
const exp = JSON.parse(readFileSync(`${FIXTURES}orpo-expected.json`, "utf8"));

const rel = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
/** The worst |got - want| - (atol + rtol |want|) as a message, or null when every element passes. */
function compare(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  let worst: string | null = null;
  let excess = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (!(e <= 0) && (worst === null || e > excess || Number.isNaN(e))) {
      worst = `element ${i}: got ${got[i]}, want ${want[i]}`;
      excess = e;
    }
  }
  return worst;
}

const pairs: OrpoExample[] = (exp.pairs as { prompt: number[]; chosen: number[]; rejected: number[] }[]).map((p) => ({
  promptIds: p.prompt,
  chosenIds: p.chosen,
  rejectedIds: p.rejected,
}));

let policy: F.CausalLmPolicy;
const objective = (beta: number) => new OrpoObjective(policy, { ...ORPO_DEFAULTS, beta }, 0);

beforeAll(async () => {
  const m = await F.loadPretrained(`${TINY}model`, new F.Runtime({ intraOpNumThreads: 1 }));
  const adapter = F.loadPeftAdapter(`${TINY}adapter`, m.config, m.lm.params);
  policy = new F.CausalLmPolicy(m.lm, m.config, new F.ByteTokenizer(), adapter, null);
});

describe("ORPO on three reference pairs (tiny-llama + LoRA)", () => {
  it("loss and every TRL metric match the reference", async () => {
    const r = await objective(exp.beta).evalStep(pairs);
    expect(r.count).toBe(3);
    expect(rel(r.lossSum / r.count, exp.loss)).toBeLessThan(1e-4);
    const m = r.metrics!;
    expect(Object.keys(m).sort()).toEqual(Object.keys(exp.metrics).sort());
    for (const [k, want] of Object.entries(exp.metrics as Record<string, number>)) expect(rel(m[k]!, want), k).toBeLessThan(1e-4);
    const alt = await objective(exp.beta_alt).evalStep(pairs);
    expect(rel(alt.lossSum / alt.count, exp.loss_beta_alt)).toBeLessThan(1e-4);
  });

  it("gradients of every lora_A / lora_B match, in one micro-batch or one pair per micro-batch", async () => {
    const obj = objective(exp.beta);
    const whole = await obj.microStep(pairs, pairs.length, new F.Rng(0));
    expect(rel(whole.lossSum / pairs.length, exp.loss)).toBeLessThan(1e-4);
    // Accumulation as the trainer does it: each micro-batch is normalised by the step's 3 pairs.
    const parts = await Promise.all(pairs.map((p) => obj.microStep([p], pairs.length, new F.Rng(0))));
    const want = F.SafetensorsFile.open(`${FIXTURES}orpo-grads.safetensors`);
    try {
      expect(whole.grads.size).toBe(28);
      let sq = 0;
      for (const [n, g] of whole.grads) {
        const w = want.readFloat32(`orpo_grad.${n}`);
        expect(compare(g, w, 1e-3, 1e-7), n).toBeNull();
        const summed = g.map((_, i) => parts.reduce((s, p) => s + p.grads.get(n)![i]!, 0));
        expect(compare(summed, w, 1e-3, 1e-7), `${n} (accumulated)`).toBeNull();
        for (const x of g) sq += x * x;
      }
      expect(rel(Math.sqrt(sq), exp.grad_global_norm)).toBeLessThan(1e-3);
    } finally {
      want.close();
    }
  });
});

/** The loss graph alone: losses, log odds ratios and gradients w.r.t. the average log-probs. */
async function lossGraph(chosen: number[], rejected: number[], beta: number) {
  const g = new F.Graph();
  const c = g.input("chosen", "float32", ["batch"]);
  const r = g.input("rejected", "float32", ["batch"]);
  const { losses, logOddsRatio } = orpoLosses({ chosen: c, rejected: r }, beta);
  const [dc, dr] = F.grad(F.reduceSum(losses), [c, r]);
  const exe = await new F.Runtime({ intraOpNumThreads: 1 }).compile(g, { losses, logOddsRatio, dc: dc!, dr: dr! });
  const dims = [chosen.length];
  const out = await exe.run({ chosen: { data: Float32Array.from(chosen), dims }, rejected: { data: Float32Array.from(rejected), dims } });
  const f = (k: string) => out[k]!.data as Float32Array;
  return { losses: f("losses"), logOddsRatio: f("logOddsRatio"), dc: f("dc"), dr: f("dr") };
}

describe("the ORPO loss on given average log-probs", () => {
  it("matches the reference from -40 up to -1e-9 (P -> 1): losses, log odds ratios, gradients", async () => {
    const ref = exp.logps_case;
    const got = await lossGraph(ref.chosen, ref.rejected, ref.beta);
    expect(compare(got.losses, ref.losses, 1e-4, 1e-10)).toBeNull();
    expect(compare(got.logOddsRatio, ref.log_odds, 1e-4, 1e-6)).toBeNull();
    expect(compare(got.dc, ref.grad_chosen, 1e-3, 1e-9)).toBeNull();
    expect(compare(got.dr, ref.grad_rejected, 1e-3, 1e-9)).toBeNull();
  });

  it("log(1 - e^a) is accurate from -80 to -1e-12, and finite with finite gradients at a = 0", async () => {
    const as = [-80, -20, -3, -1, -0.5, -0.2500001, -0.25, -0.2499999, -0.1, -1e-2, -1e-4, -1e-7, -1e-9, -1e-12];
    const g = new F.Graph();
    const a = g.input("a", "float32", ["n"]);
    const y = log1mExp(a);
    const [dy] = F.grad(F.reduceSum(y), [a]);
    const exe = await new F.Runtime({ intraOpNumThreads: 1 }).compile(g, { y, dy: dy! });
    const run = async (xs: number[]) => {
      const out = await exe.run({ a: { data: Float32Array.from(xs), dims: [xs.length] } });
      return { y: out.y!.data as Float32Array, dy: out.dy!.data as Float32Array };
    };
    const got = await run(as);
    const a32 = Float32Array.from(as); // the float32 inputs the graph saw
    const want = Array.from(a32, (x) => Math.log(-Math.expm1(x)));
    const wantGrad = Array.from(a32, (x) => -1 / Math.expm1(-x)); // d/da log(1 - e^a) = -e^a / (1 - e^a)
    // Relative precision near 0 (the series); below -0.25, float32 rounding of log(1 - e^a) (< 3e-7 absolute).
    expect(compare(got.y, want, 1e-6, 3e-7)).toBeNull();
    expect(compare(got.dy, wantGrad, 1e-5, 1e-30)).toBeNull();
    const edge = await run([0, -0, -1e-38, -1e-30]);
    for (const v of [...edge.y, ...edge.dy]) expect(Number.isFinite(v)).toBe(true);
    // Certain completions on both sides: odds capped, loss and gradients finite.
    const certain = await lossGraph([0, 0, -1e-3], [0, -3, 0], 0.1);
    for (const v of [...certain.losses, ...certain.logOddsRatio, ...certain.dc, ...certain.dr]) expect(Number.isFinite(v)).toBe(true);
    expect(certain.logOddsRatio[0]).toBe(0);
  });
});
