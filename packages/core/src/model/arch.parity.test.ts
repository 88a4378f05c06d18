/**
 * Parity of the Llama-family variants with the PyTorch reference extended by scripts/golden/make_arch_fixtures.py
 * (fixtures in test/fixtures/arch/): Qwen2 (q/k/v biases, untied lm_head), Llama with attention_bias + mlp_bias
 * and "llama3" rope scaling, and Mistral with sliding_window 4. Checks config parsing, logits, loss, every gradient
 * and the global gradient norm on a right-padded 2x10 batch, the llama3 inverse frequencies, and for the sliding
 * window the eval loss, the loss without the window, and greedy decoding through the KV cache.
 * Tolerances: logits |d| <= 1e-5 + 1e-4|want|; loss and gradients |d| <= 1e-6 + 1e-3|want|.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "../io/safetensors.js";
import { inverseFrequencies } from "../nn/rotary.js";
import { Runtime } from "../runtime/runtime.js";
import { compareArrays } from "../testing/fixtures.js";
import { generate } from "../generate/generate.js";
import { CausalLM } from "./causal-lm.js";
import { buildCausalLmTrainGraph } from "../train/causal-lm-graph.js";
import { batchFeeds, padBatch } from "./batch.js";
import { type PretrainedModel, loadPretrained } from "./pretrained.js";

const ARCH_DIR = fileURLToPath(new URL("../../../../test/fixtures/arch/", import.meta.url));
const runtime = new Runtime();

interface Case {
  name: string;
  check: (m: PretrainedModel) => void;
}

const cases: Case[] = [
  {
    name: "qwen2",
    check: (m) => {
      const c = m.config;
      expect(c.architecture).toBe("Qwen2ForCausalLM");
      expect([c.qkvBias, c.oBias, c.mlpBias, c.tieWordEmbeddings]).toEqual([true, false, false, false]);
      expect(c.ropeScaling).toBeNull();
      expect(c.ropeTheta).toBe(1e6);
      expect(m.lm.params.names).toContain("model.layers.1.self_attn.v_proj.bias");
      expect(m.lm.params.names).not.toContain("model.layers.1.self_attn.o_proj.bias");
      expect(m.lm.params.names).toContain("lm_head.weight");
    },
  },
  {
    name: "llama-bias-rope3",
    check: (m) => {
      const c = m.config;
      expect(c.architecture).toBe("LlamaForCausalLM");
      expect([c.qkvBias, c.oBias, c.mlpBias, c.tieWordEmbeddings]).toEqual([true, true, true, true]);
      expect(c.headDim).toBe(16);
      expect(c.ropeScaling).toEqual({ ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 });
      for (const b of ["self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"])
        expect(m.lm.params.names).toContain(`model.layers.0.${b}`);
    },
  },
  {
    name: "mistral-swa",
    check: (m) => {
      const c = m.config;
      expect(c.architecture).toBe("MistralForCausalLM");
      expect([c.qkvBias, c.oBias, c.mlpBias, c.tieWordEmbeddings]).toEqual([false, false, false, false]);
      expect(c.slidingWindow).toBe(4);
      expect(c.extra).not.toHaveProperty("sliding_window");
    },
  },
];

for (const c of cases) {
  describe(`${c.name} parity`, () => {
    const dir = `${ARCH_DIR}${c.name}/`;
    const exp = JSON.parse(readFileSync(`${dir}expected.json`, "utf8"));
    const rows: number[][] = exp["batch.input_ids"];
    const masks: number[][] = exp["batch.attention_mask"];
    const labels: number[][] = exp["batch.labels"];
    const lens = masks.map((r) => r.reduce((a, b) => a + b, 0));
    const T = rows[0]!.length;
    const batch = padBatch(rows.map((r, i) => r.slice(0, lens[i])), { labels: labels.map((r, i) => r.slice(0, lens[i])), length: T });
    let m: PretrainedModel;
    let want: SafetensorsFile;
    beforeAll(async () => {
      m = await loadPretrained(dir, runtime);
      want = SafetensorsFile.open(`${dir}expected.safetensors`);
    });
    afterAll(() => want?.close());

    it("parses the config as transformers does", () => {
      c.check(m);
      expect(m.config.architecture).toBe(exp.architecture);
      expect(m.config.headDim).toBe(exp["rope.head_dim"]);
    });

    it("builds the fixture's batch (right padding, pad id 0)", () => {
      expect([...batch.inputIds].map(Number)).toEqual(rows.flat());
      expect([...batch.attentionMask].map(Number)).toEqual(masks.flat());
      expect([...batch.labels!].map(Number)).toEqual(labels.flat());
    });

    it("logits match where attention_mask is 1", async () => {
      const logits = await m.lm.logits(batch);
      const V = m.config.vocabSize;
      const real = (i: number) => masks.flat()[Math.floor(i / V)] === 1;
      expect(compareArrays(logits, want.readFloat32("logits"), 1e-4, 1e-5, real)).toBeNull();
    });

    it("loss, every gradient and the global gradient norm match", async () => {
      const names = m.lm.params.names;
      const n = exp["lm.label_tokens"] as number;
      const tg = buildCausalLmTrainGraph(m.config, names);
      const exe = await runtime.compile(tg.lg.graph, tg.outputs);
      const out = await exe.run({
        ...m.lm.params.feeds(),
        ...batchFeeds(batch),
        num_items_in_batch: { data: Float32Array.of(n), dims: [] },
      });
      const count = (out.count!.data as Float32Array)[0]!;
      expect(count).toBe(n);
      const loss = (out.loss_sum!.data as Float32Array)[0]! / n;
      expect(Math.abs(loss - exp["lm.loss"])).toBeLessThanOrEqual(1e-6 + 1e-3 * exp["lm.loss"]);
      // Every parameter of the model has a reference gradient, and vice versa.
      expect(want.tensorNames.filter((t) => t.startsWith("grad.")).sort()).toEqual(names.map((x) => `grad.${x}`).sort());
      let sq = 0;
      for (const name of names) {
        const g = out[`grad.${name}`]!.data as Float32Array;
        for (const x of g) sq += x * x;
        expect(compareArrays(g, want.readFloat32(`grad.${name}`), 1e-3, 1e-6), `grad.${name}`).toBeNull();
      }
      expect(Math.abs(Math.sqrt(sq) - exp["lm.grad_global_norm"])).toBeLessThanOrEqual(1e-3 * exp["lm.grad_global_norm"]);
    });

    it("inverse frequencies match the reference", () => {
      const inv = inverseFrequencies(m.config.headDim, m.config.ropeTheta, m.config.ropeScaling);
      expect(compareArrays(inv, exp["rope.inv_freq"], 1e-12, 0)).toBeNull();
    });
  });
}

describe("inverseFrequencies with llama3 scaling", () => {
  const exp = JSON.parse(readFileSync(`${ARCH_DIR}llama-bias-rope3/expected.json`, "utf8"));
  const scaling = { ropeType: "llama3" as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };

  it("matches transformers' _compute_llama3_parameters in all three regimes", () => {
    const regimes: string[] = exp["rope.regimes"];
    expect(new Set(regimes)).toEqual(new Set(["high", "medium", "low"]));
    const base = inverseFrequencies(16, 500000);
    expect(compareArrays(base, exp["rope.default_inv_freq"], 1e-12, 0)).toBeNull();
    const inv = inverseFrequencies(16, 500000, scaling);
    expect(compareArrays(inv, exp["rope.inv_freq"], 1e-12, 0)).toBeNull();
    regimes.forEach((r, i) => {
      if (r === "high") expect(inv[i]).toBe(base[i]);
      else if (r === "low") expect(inv[i]).toBeCloseTo(base[i]! / 8, 15);
      else expect(inv[i]! > base[i]! / 8 && inv[i]! < base[i]!).toBe(true);
    });
  });

  it("treats the band edges as medium (wavelen == low or high edge -> smoothed value, continuous)", () => {
    // theta chosen so that the i = 1 wavelength (2*pi*theta^(2/D)) falls exactly on an edge: at the low edge
    // smooth = 0 (inv/factor), at the high edge smooth = 1 (inv unchanged); both sides agree.
    const D = 4;
    for (const [edge, want] of [
      [64, 1 / 8],
      [16, 1],
    ] as const) {
      const theta = (edge / (2 * Math.PI)) ** (D / 2);
      const base = inverseFrequencies(D, theta);
      const inv = inverseFrequencies(D, theta, scaling);
      expect(inv[1]! / base[1]!).toBeCloseTo(want, 9);
    }
  });
});

describe("Mistral sliding_window (mistral-swa fixture, window 4)", () => {
  const dir = `${ARCH_DIR}mistral-swa/`;
  const exp = JSON.parse(readFileSync(`${dir}expected.json`, "utf8"));
  const masks: number[][] = exp["batch.attention_mask"];
  const lens = masks.map((r) => r.reduce((a, b) => a + b, 0));
  const rows = (exp["batch.input_ids"] as number[][]).map((r, i) => r.slice(0, lens[i]));
  const labels = (exp["batch.labels"] as number[][]).map((r, i) => r.slice(0, lens[i]));
  const batch = padBatch(rows, { labels, length: rows[0]!.length });
  let m: PretrainedModel;
  beforeAll(async () => {
    m = await loadPretrained(dir, runtime);
  });

  it("the eval path (CausalLM.lossSum) gives the reference loss; without the window, the full-attention loss", async () => {
    const { lossSum, count } = await m.lm.lossSum(batch);
    expect(count).toBe(exp["lm.label_tokens"]);
    expect(Math.abs(lossSum / count - exp["lm.loss"])).toBeLessThanOrEqual(1e-4 * exp["lm.loss"]);
    const full = new CausalLM({ ...m.config, slidingWindow: null }, m.lm.params, runtime);
    const f = await full.lossSum(batch);
    expect(Math.abs(f.lossSum / f.count - exp["lm.loss_full_attention"])).toBeLessThanOrEqual(1e-4 * exp["lm.loss_full_attention"]);
    expect(Math.abs(exp["lm.loss"] - exp["lm.loss_full_attention"])).toBeGreaterThan(0.05);
  });

  it("greedy decoding through the KV cache matches the reference's full forwards, past the window", async () => {
    expect(exp["greedy.min_top2_margin"]).toBeGreaterThan(1e-3);
    const prompt: number[] = exp["greedy.prompt_ids"];
    const want: number[] = exp["greedy.ids"];
    expect(prompt.length + want.length).toBeGreaterThan(2 * m.config.slidingWindow!);
    const out = await generate(m.lm, [prompt], { maxNewTokens: want.length, temperature: 0 });
    expect(out.completions[0]).toEqual(want);
    // Left-padded next to a longer prompt, the row decodes the same (the window counts positions, not pad slots).
    const batched = await generate(m.lm, [prompt, [5, 6, 7, 8, 9, ...prompt]], { maxNewTokens: want.length, temperature: 0 });
    expect(batched.completions[0]).toEqual(want);
    const single = await generate(m.lm, [[5, 6, 7, 8, 9, ...prompt]], { maxNewTokens: want.length, temperature: 0 });
    expect(batched.completions[1]).toEqual(single.completions[0]);
  });
});
