/**
 * CausalLM.withFrozenBase: decode sessions with the base weights embedded (pre-packed by onnxruntime) generate
 * exactly what the plain view generates (greedy golden of the real stories260K model; LoRA adapter still fed),
 * and a change of the base weights after the snapshot rebuilds the session instead of generating stale tokens.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../runtime/runtime.js";
import { readExpectedJson, STORIES_DIR } from "../testing/fixtures.js";
import { type PretrainedModel, loadPretrained } from "./pretrained.js";
import { generate } from "../generate/generate.js";
import { CausalLM } from "./causal-lm.js";
import { createLoraAdapter } from "../lora/adapter.js";
import { resolveLoraConfig } from "../lora/lora-config.js";
import { Rng } from "../util/rng.js";

const runtime = new Runtime();
const prompts = [[1, 403, 407], [1], [1, 403, 407, 261, 378]];

describe("withFrozenBase (stories260K)", () => {
  let m: PretrainedModel;
  const exp = readExpectedJson("stories260K");
  beforeAll(async () => {
    m = await loadPretrained(STORIES_DIR, runtime);
  });

  it("embeds the base weights as constants of the decode graph only", async () => {
    const plain = await m.lm.generationGraphs();
    const frozen = await m.lm.withFrozenBase().generationGraphs();
    expect(frozen.prefill === plain.prefill).toBe(true);
    expect(frozen.decode.lg.weights.size).toBe(0);
    expect(frozen.decode.lg.frozenWeights.size).toBe(plain.decode.lg.weights.size);
    const some = await m.lm.withFrozenBase(["model.norm.weight"]).generationGraphs();
    expect([...some.decode.lg.weights.keys()]).toEqual(["model.norm.weight"]);
  });

  it("greedy decoding of 100 tokens from BOS reproduces the reference", async () => {
    const out = await generate(m.lm.withFrozenBase(), [[1]], { maxNewTokens: 100, temperature: 0 });
    expect(out.completions[0]).toEqual(exp.greedy_from_bos_ids);
  });

  it("batched generation with a LoRA adapter equals the plain view, and follows adapter updates", async () => {
    const adapter = createLoraAdapter(m.lm.arch, resolveLoraConfig({ r: 4, loraAlpha: 8, targetModules: "all-linear" }), m.lm.params as never, 3);
    const rng = new Rng(7);
    const perturb = () => {
      for (const n of adapter.params.names) if (n.includes("lora_B")) adapter.params.get(n).forEach((_, i, a) => (a[i] = rng.normal() * 0.05));
    };
    perturb();
    const lm = m.lm.withAdapter(adapter);
    const opts = { maxNewTokens: 24, temperature: 0 };
    const base = await generate(m.lm, prompts, opts);
    const a = await generate(lm, prompts, opts);
    expect(a.completions).not.toEqual(base.completions);
    expect((await generate(lm.withFrozenBase(adapter.params.names), prompts, opts)).completions).toEqual(a.completions);
    perturb();
    const b = await generate(lm, prompts, opts);
    expect(b.completions).not.toEqual(a.completions);
    expect((await generate(lm.withFrozenBase(adapter.params.names), prompts, opts)).completions).toEqual(b.completions);
  });

  it("rebuilds the session when a frozen base weight changed since the snapshot", async () => {
    const params = m.lm.params.clone();
    const lm = new CausalLM(m.lm.arch, params, runtime);
    const opts = { maxNewTokens: 20, temperature: 0 };
    const before = await generate(lm.withFrozenBase(), prompts, opts);
    expect(before.completions).toEqual((await generate(lm, prompts, opts)).completions);
    const first = (await lm.withFrozenBase().generationGraphs()).decode;
    const rng = new Rng(1);
    for (const n of params.names) params.get(n).forEach((x, i, a) => (a[i] = x + rng.normal() * 0.02));
    const after = await generate(lm.withFrozenBase(), prompts, opts);
    expect(after.completions).not.toEqual(before.completions);
    expect(after.completions).toEqual((await generate(lm, prompts, opts)).completions);
    expect((await lm.withFrozenBase().generationGraphs()).decode === first).toBe(false); // (not toBe: printing a graph hangs)
  });

  it("sees a single changed value, and keeps linear biases (qkv, o, mlp) in the frozen graph", async () => {
    const arch = { ...m.lm.arch, qkvBias: true, oBias: true, mlpBias: true };
    const { ParamStore } = await import("../params/param-store.js");
    const { llamaParamSpecs } = await import("./llama-arch.js");
    const params = new ParamStore(llamaParamSpecs(arch));
    const rng = new Rng(3);
    for (const n of params.names) {
      if (m.lm.params.has(n)) params.get(n).set(m.lm.params.get(n));
      else params.get(n).forEach((_, i, a) => (a[i] = rng.normal() * 0.1));
    }
    const lm = new CausalLM(arch, params, runtime);
    const opts = { maxNewTokens: 12, temperature: 0 };
    const plain = await generate(lm, prompts, opts);
    expect((await generate(lm.withFrozenBase(), prompts, opts)).completions).toEqual(plain.completions);
    // One element of one tensor, away from any sampling pattern: the checksum sees it.
    const emb = params.get("model.embed_tokens.weight");
    const row = 403 * m.lm.arch.hiddenSize + 5;
    emb[row] = emb[row]! + 4;
    const changed = await generate(lm, prompts, opts);
    expect((await generate(lm.withFrozenBase(), prompts, opts)).completions).toEqual(changed.completions);
  });
});

