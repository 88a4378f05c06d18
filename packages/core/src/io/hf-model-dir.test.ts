/**
 * Hugging Face model directories: config parsing and write-back, generation config, single-file and sharded
 * weights (a sharded copy of tiny-llama must load identically), and the errors for missing or broken files.
 */
import { SHARED_DIR } from "../testing/fixtures.js";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  llamaConfigToJson,
  openModelWeights,
  parseLlamaConfig,
  readGenerationConfig,
  readLlamaConfig,
} from "./hf-model-dir.js";
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from "./safetensors.js";
import { llamaParamSpecs, type LlamaArch } from "../model/llama-arch.js";
import { errorOf } from "../testing/edits.js";

const SHARED = SHARED_DIR;
const TINY = path.join(SHARED, "fixtures/tiny-llama/model");
const STORIES = path.join(SHARED, "models/stories260K-hf");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-hfdir-"));
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

describe("readGenerationConfig", () => {
  it("reads generation_config.json, or {} without one", () => {
    expect(readGenerationConfig(STORIES)).toEqual({ bosTokenId: 1, eosTokenId: 2, maxLength: 256 });
    expect(readGenerationConfig(TINY)).toEqual({});
    const dir = fs.mkdtempSync(path.join(tmp, "gen-"));
    const file = path.join(dir, "generation_config.json");
    fs.writeFileSync(file, JSON.stringify({ do_sample: true, temperature: 0.6, top_p: 0.9, top_k: 50, eos_token_id: [1, 2], pad_token_id: null }));
    expect(readGenerationConfig(dir)).toEqual({ doSample: true, temperature: 0.6, topP: 0.9, topK: 50, eosTokenId: [1, 2] });
    fs.writeFileSync(file, JSON.stringify({ top_p: 2 }));
    expect(errorOf(() => readGenerationConfig(dir))).toBe(`${file}: field 'top_p' must be a number in [0, 1], got 2`);
  });
});

describe("openModelWeights", () => {
  it("opens a single model.safetensors", () => {
    const w = openModelWeights(TINY);
    expect(w.tensorNames.length).toBe(20);
    expect(w.info("model.embed_tokens.weight").shape).toEqual([97, 48]);
    expect(w.readFloat32("model.norm.weight").length).toBe(48);
    expect(errorOf(() => w.info("lm_head.weight"))).toMatch(new RegExp(`${TINY}: no tensor 'lm_head.weight'`));
    w.close();
  });

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

  /** Copies tiny-llama into `dir` as two shards (tensors alternating) plus an index; returns the shard names. */
  function shard(dir: string): Record<string, string> {
    const src = readSafetensors(path.join(TINY, "model.safetensors"));
    const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    const parts: Record<string, SafetensorsTensor>[] = [{}, {}];
    const weightMap: Record<string, string> = {};
    src.tensorNames.forEach((n, i) => {
      parts[i % 2]![n] = { dtype: src.info(n).dtype, shape: src.info(n).shape, data: src.read(n) };
      weightMap[n] = files[i % 2]!;
    });
    files.forEach((f, i) => writeSafetensors(path.join(dir, f), parts[i]!, { format: "pt" }));
    const index = { metadata: { total_size: 179328 }, weight_map: weightMap };
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify(index, null, 2));
    fs.copyFileSync(path.join(TINY, "config.json"), path.join(dir, "config.json"));
    src.close();
    return weightMap;
  }

  it("loads a sharded copy identically, into preallocated views", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "sharded-"));
    shard(dir);
    const a = openModelWeights(TINY);
    const b = openModelWeights(dir);
    expect(b.files.length).toBe(2);
    expect(new Set(b.tensorNames)).toEqual(new Set(a.tensorNames));
    const total = a.tensorNames.reduce((s, n) => s + a.info(n).numel, 0);
    const flatA = new Float32Array(total);
    const flatB = new Float32Array(total);
    let off = 0;
    for (const n of a.tensorNames) {
      const k = a.info(n).numel;
      expect(b.info(n).shape).toEqual(a.info(n).shape);
      a.readFloat32Into(n, flatA.subarray(off, off + k));
      b.readFloat32Into(n, flatB.subarray(off, off + k));
      off += k;
    }
    expect(flatB).toEqual(flatA);
    expect(readLlamaConfig(dir)).toEqual(readLlamaConfig(TINY));
    a.close();
    b.close();
  });

  it("lists tensors a shard holds that weight_map does not map to it", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "unindexed-"));
    const weightMap = shard(dir);
    const whole = openModelWeights(dir);
    expect(whole.unindexedTensorNames).toEqual([]);
    whole.close();
    const { "model.norm.weight": _dropped, ...rest } = weightMap;
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: rest }));
    const w = openModelWeights(dir);
    expect(w.has("model.norm.weight")).toBe(false);
    expect(w.unindexedTensorNames).toEqual(["model.norm.weight"]);
    w.close();
  });

  it("names the directory and files looked for when there are no weights", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "empty-"));
    expect(errorOf(() => openModelWeights(dir))).toBe(`${dir}: no model weights: looked for model.safetensors and model.safetensors.index.json`);
    fs.writeFileSync(path.join(dir, "pytorch_model.bin"), "");
    expect(errorOf(() => openModelWeights(dir))).toMatch(/found pytorch_model.bin: PyTorch pickles are not read/);
    expect(errorOf(() => openModelWeights(path.join(dir, "nope")))).toMatch(/model directory .*nope does not exist/);
  });

  it("names the index, tensor and shard for a broken weight_map", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "broken-"));
    const weightMap = shard(dir);
    const indexPath = path.join(dir, "model.safetensors.index.json");
    const writeIndex = (wm: Record<string, string>) => fs.writeFileSync(indexPath, JSON.stringify({ weight_map: wm }));

    writeIndex({ ...weightMap, "model.norm.weight": "model-00003-of-00003.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toBe(
      `${indexPath}: weight_map maps 'model.norm.weight' to shard 'model-00003-of-00003.safetensors', which does not exist in ${dir}`,
    );
    writeIndex({ ...weightMap, "lm_head.weight": "model-00001-of-00002.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toBe(
      `${indexPath}: weight_map maps 'lm_head.weight' to shard 'model-00001-of-00002.safetensors', which has no such tensor`,
    );
    writeIndex({ ...weightMap, x: "../elsewhere.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toMatch(/weight_map entry 'x' has bad shard file name/);
    fs.writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    expect(errorOf(() => openModelWeights(dir))).toBe(`${indexPath}: no 'weight_map' object`);
  });
});
