/**
 * A small randomly initialised Llama and a byte-level tokenizer, written as a Hugging Face model
 * directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) without any
 * download. Initialisation: normal(0, 0.02) for matrices (HF initializer_range), ones for norms.
 */
import * as F from "@ortrl/core";

export function tinyConfig(vocabSize: number): F.LlamaConfig {
  return F.parseLlamaConfig({
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 128,
    intermediate_size: 384,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: vocabSize,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: "silu",
  });
}

export async function writeTinyModel(dir: string, seed: number): Promise<void> {
  const tokenizer = new F.ByteTokenizer();
  const config = tinyConfig(tokenizer.vocabSize);
  const params = new F.ParamStore(F.llamaParamSpecs(config));
  const rng = new F.Rng(seed);
  for (const name of params.names) {
    const v = params.get(name);
    if (name.endsWith("norm.weight")) v.fill(1);
    else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.02;
  }
  await F.savePretrained(dir, { config, params, tokenizer });
}
