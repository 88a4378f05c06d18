import { describe, expect, it } from "vitest";
import { parseLlamaConfig } from "@ortrl/core";
import { checkLlamaExportable, ggufTensorName, llamaMetadata, llamaTensorPlan, permuteRotaryRows } from "./llama-gguf.js";

const base = { architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 512, tie_word_embeddings: true };

describe("llama GGUF layout", () => {
  it("names tensors as llama.cpp's converter does", () => {
    expect(ggufTensorName("model.embed_tokens.weight")).toBe("token_embd.weight");
    expect(ggufTensorName("model.layers.11.self_attn.o_proj.weight")).toBe("blk.11.attn_output.weight");
    expect(ggufTensorName("model.layers.0.post_attention_layernorm.weight")).toBe("blk.0.ffn_norm.weight");
    expect(ggufTensorName("model.layers.3.mlp.down_proj.bias")).toBe("blk.3.ffn_down.bias");
    expect(ggufTensorName("lm_head.weight")).toBe("output.weight");
    expect(() => ggufTensorName("model.layers.0.self_attn.rotary_emb.inv_freq")).toThrow(/no GGUF name/);
  });

  it("tied models have no output tensor; q and k are permuted by their own head counts", () => {
    const plan = llamaTensorPlan(parseLlamaConfig(base));
    expect(plan.some((p) => p.ggufName === "output.weight")).toBe(false);
    expect(plan.find((p) => p.ggufName === "blk.1.attn_q.weight")?.permuteHeads).toBe(8);
    expect(plan.find((p) => p.ggufName === "blk.1.attn_k.weight")?.permuteHeads).toBe(4);
    expect(plan.find((p) => p.ggufName === "blk.1.attn_v.weight")?.permuteHeads).toBe(0);
    expect(llamaTensorPlan(parseLlamaConfig({ ...base, tie_word_embeddings: false })).at(-1)?.ggufName).toBe("output.weight");
  });

  it("permutes rotate-half rows back to interleaved pairs within each head", () => {
    // 2 heads of 4 rows, 1 column: per head HF order [x0, x1, y0, y1] (halves) -> llama.cpp [x0, y0, x1, y1]
    const src = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
    expect([...permuteRotaryRows(src, 8, 1, 2)]).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
    // rows of 2 columns move together
    const w = Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    expect([...permuteRotaryRows(w, 4, 2, 1)]).toEqual([0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
    expect(() => permuteRotaryRows(new Float32Array(6), 6, 1, 2)).toThrow(/even size/);
  });

  it("writes head_dim and key/value lengths when head_dim is not hidden / heads", () => {
    const m = new Map(llamaMetadata(parseLlamaConfig({ ...base, head_dim: 16 })));
    expect(m.get("llama.rope.dimension_count")).toEqual({ type: "u32", value: 16 });
    expect(m.get("llama.attention.key_length")).toEqual({ type: "u32", value: 16 });
    expect(new Map(llamaMetadata(parseLlamaConfig(base))).has("llama.attention.key_length")).toBe(false);
  });

  it("refuses Qwen2 and rope scaling; caps Mistral's context at its sliding window with a warning", () => {
    expect(() => checkLlamaExportable(parseLlamaConfig({ ...base, architectures: ["Qwen2ForCausalLM"] }), "m/config.json")).toThrow(/m\/config.json: architectures \["Qwen2ForCausalLM"\]: GGUF export supports LlamaForCausalLM and MistralForCausalLM/);
    const scaled = { ...base, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } };
    expect(() => checkLlamaExportable(parseLlamaConfig(scaled), "c")).toThrow(/rope_scaling \(llama3\) is not supported/);
    const mistral = parseLlamaConfig({ ...base, architectures: ["MistralForCausalLM"], max_position_embeddings: 8192, sliding_window: 4096 });
    expect(checkLlamaExportable(mistral, "c")[0]).toMatch(/sliding_window 4096 < max_position_embeddings 8192/);
    expect(new Map(llamaMetadata(mistral)).get("llama.context_length")).toEqual({ type: "u32", value: 4096 });
  });
});
