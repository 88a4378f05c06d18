/**
 * config.json of the Llama family: parsing with transformers' defaults (Llama, Mistral, Qwen2, Llama 3.1
 * rope scaling), write-back as transformers spells it, agreement with the weights of the shared models,
 * and errors that name the file and the field.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openModelWeights } from "../io/model-weights.js";
import { errorOf } from "../testing/edits.js";
import { STORIES_DIR, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { llamaParamSpecs, type LlamaArch } from "./llama-arch.js";
import { llamaConfigToJson, parseLlamaConfig, readLlamaConfig } from "./llama-config.js";

const TINY = path.join(TINY_LLAMA_DIR, "model");
const STORIES = STORIES_DIR;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-llama-config-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BASE = {
  architectures: ["LlamaForCausalLM"],
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 100,
};

describe("readLlamaConfig", () => {
  it("reads the tiny-llama config", () => {
    const c = readLlamaConfig(TINY);
    expect(c).toMatchObject({
      architecture: "LlamaForCausalLM",
      modelType: "llama",
      hiddenSize: 48,
      intermediateSize: 96,
      numHiddenLayers: 2,
      numAttentionHeads: 6,
      numKeyValueHeads: 2,
      headDim: 8,
      vocabSize: 97,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: null,
      maxPositionEmbeddings: 64,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      bosTokenId: 1,
      eosTokenId: 2,
      padTokenId: null,
      torchDtype: "float32",
      extra: {},
    });
  });

  it("reads stories260K and keeps unknown keys in extra", () => {
    const c = readLlamaConfig(STORIES);
    expect(c).toMatchObject({ hiddenSize: 64, numAttentionHeads: 8, numKeyValueHeads: 4, headDim: 8, vocabSize: 512, numHiddenLayers: 5 });
    expect(c.extra).toEqual({ initializer_range: 0.02 });
  });

  it("writes configs back as transformers spells them", () => {
    for (const dir of [TINY, STORIES]) {
      const original = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      const cfg = readLlamaConfig(dir);
      const json = llamaConfigToJson(cfg);
      expect(json).toEqual({ ...original, head_dim: cfg.headDim, rope_scaling: null });
      expect(Object.keys(json)).toEqual(Object.keys(json).sort());
      expect(parseLlamaConfig(json)).toEqual(cfg);
    }
  });

  it("applies transformers' defaults", () => {
    const c = parseLlamaConfig(BASE);
    expect(c).toMatchObject({ numKeyValueHeads: 4, headDim: 16, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, bosTokenId: 1, eosTokenId: 2, torchDtype: null });
    expect(parseLlamaConfig({ ...BASE, architectures: undefined, model_type: "mistral" }).architecture).toBe("MistralForCausalLM");
    expect(parseLlamaConfig({ ...BASE, head_dim: 32, dtype: "bfloat16" })).toMatchObject({ headDim: 32, torchDtype: "bfloat16" });
  });

  it("reads Llama 3.1 rope scaling and eos lists", () => {
    const rope = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_type: "llama3" };
    const c = parseLlamaConfig({ ...BASE, rope_scaling: rope, eos_token_id: [128001, 128008, 128009], rope_theta: 500000 });
    expect(c.ropeScaling).toEqual({ ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.eosTokenId).toEqual([128001, 128008, 128009]);
    expect(llamaConfigToJson(c)["rope_scaling"]).toEqual(rope);
    expect(parseLlamaConfig({ ...BASE, rope_scaling: { type: "default" } }).ropeScaling).toBeNull();
  });

  it("reads Qwen2 (q/k/v biases only) and Mistral (no biases, sliding_window kept)", () => {
    const q = parseLlamaConfig({ ...BASE, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", use_sliding_window: false, attention_bias: false });
    expect(q).toMatchObject({ qkvBias: true, oBias: false, attentionBias: true, mlpBias: false, bosTokenId: null, eosTokenId: null, maxPositionEmbeddings: 32768 });
    expect(q.extra).toEqual({ use_sliding_window: false, attention_bias: false });
    expect(parseLlamaConfig(llamaConfigToJson(q))).toEqual(q);
    expect(llamaConfigToJson(q)).not.toHaveProperty("head_dim");
    // Newer Qwen2 checkpoints may set head_dim; sliding-window attention is refused, not silently ignored.
    expect(parseLlamaConfig({ ...BASE, architectures: ["Qwen2ForCausalLM"], head_dim: 8 }).headDim).toBe(8);
    expect(errorOf(() => parseLlamaConfig({ ...BASE, architectures: ["Qwen2ForCausalLM"], use_sliding_window: true }))).toMatch(/use_sliding_window.*not supported/);

    const m = parseLlamaConfig({ ...BASE, architectures: ["MistralForCausalLM"], sliding_window: null, num_key_value_heads: 2 });
    expect(m).toMatchObject({ qkvBias: false, oBias: false, attentionBias: false, modelType: "mistral", maxPositionEmbeddings: 131072 });
    expect(llamaConfigToJson(m)).toMatchObject({ sliding_window: null, head_dim: 16 });
    expect(llamaConfigToJson(m)).not.toHaveProperty("attention_bias");
  });

  it("reads Mistral's sliding_window (absent: MistralConfig's 4096, null: off) and writes it back", () => {
    const mistral = { ...BASE, architectures: ["MistralForCausalLM"], model_type: "mistral" };
    expect(parseLlamaConfig(mistral).slidingWindow).toBe(4096);
    expect(parseLlamaConfig({ ...mistral, sliding_window: null }).slidingWindow).toBeNull();
    const m = parseLlamaConfig({ ...mistral, sliding_window: 256 });
    expect(m.slidingWindow).toBe(256);
    expect(m.extra).not.toHaveProperty("sliding_window");
    expect(llamaConfigToJson(m)["sliding_window"]).toBe(256);
    expect(parseLlamaConfig(llamaConfigToJson(m))).toEqual(m);
    expect(errorOf(() => parseLlamaConfig({ ...mistral, sliding_window: 0 }, "/m/config.json"))).toBe(
      "/m/config.json: field 'sliding_window' must be a positive integer, got 0",
    );
    // Llama ignores the key (as transformers does): it stays in extra and the model attends fully.
    const l = parseLlamaConfig({ ...BASE, sliding_window: 16 });
    expect(l.slidingWindow).toBeNull();
    expect(l.extra).toEqual({ sliding_window: 16 });
    expect(errorOf(() => llamaConfigToJson({ ...l, slidingWindow: 16 }))).toMatch(/only Mistral configs carry slidingWindow/);
  });

  it("reads Llama attention_bias as q/k/v/o biases", () => {
    const c = parseLlamaConfig({ ...BASE, attention_bias: true, mlp_bias: true });
    expect(c).toMatchObject({ qkvBias: true, oBias: true, attentionBias: true, mlpBias: true });
    expect(errorOf(() => llamaConfigToJson({ ...c, oBias: false }))).toMatch(/qkvBias and oBias must match/);
    expect(errorOf(() => llamaConfigToJson({ ...c, attentionBias: false }))).toMatch(/attentionBias must equal/);
  });

  it("throws naming the file and the field", () => {
    const src = "/models/x/config.json";
    const cases: [object, RegExp][] = [
      [{ ...BASE, architectures: ["GPT2LMHeadModel"] }, /unsupported architectures \["GPT2LMHeadModel"\]/],
      [{ ...BASE, architectures: undefined, model_type: "gpt2" }, /no 'architectures' and unsupported model_type "gpt2"/],
      [{ ...BASE, hidden_size: undefined }, /field 'hidden_size' is required/],
      [{ ...BASE, vocab_size: "100" }, /field 'vocab_size' must be a positive integer, got "100"/],
      [{ ...BASE, num_key_value_heads: 3 }, /field 'num_key_value_heads' must divide num_attention_heads \(4\)/],
      [{ ...BASE, hidden_size: 66 }, /field 'hidden_size' must be divisible by num_attention_heads/],
      [{ ...BASE, hidden_act: "gelu" }, /field 'hidden_act' is not supported/],
      [{ ...BASE, rope_scaling: { rope_type: "yarn", factor: 4 } }, /rope_scaling type "yarn" is not supported/],
      [{ ...BASE, rope_scaling: { rope_type: "llama3", factor: 8 } }, /rope_scaling: field 'low_freq_factor' is required/],
      [{ ...BASE, eos_token_id: [1, -2] }, /field 'eos_token_id' must be a token id or a list/],
      [{ ...BASE, tie_word_embeddings: "yes" }, /field 'tie_word_embeddings' must be true or false/],
    ];
    for (const [json, re] of cases) {
      const msg = errorOf(() => parseLlamaConfig(json, src));
      expect(msg).toContain(src);
      expect(msg).toMatch(re);
    }
    const empty = fs.mkdtempSync(path.join(tmp, "noconfig-"));
    expect(errorOf(() => readLlamaConfig(empty))).toMatch(new RegExp(`${empty}: no config.json`));
    fs.writeFileSync(path.join(empty, "config.json"), "{oops");
    expect(errorOf(() => readLlamaConfig(empty))).toMatch(new RegExp(`${empty}/config.json: not valid JSON`));
  });
});

describe("the config and the weights", () => {
  it("agrees with the model's parameter list (names and shapes) for the shared models", () => {
    for (const dir of [TINY, STORIES]) {
      const w = openModelWeights(dir);
      const arch: LlamaArch = readLlamaConfig(dir);
      const specs = llamaParamSpecs(arch);
      expect(new Set(specs.map((s) => s.name))).toEqual(new Set(w.tensorNames));
      for (const s of specs) expect(w.info(s.name).shape).toEqual(s.shape);
      w.close();
    }
  });
});
