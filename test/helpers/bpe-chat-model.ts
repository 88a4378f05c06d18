/**
 * A small byte-level BPE Llama with SmolLM2's tokenizer layout, made in the test (no SmolLM2 files exist offline):
 * GPT-2's byte-level vocabulary and its first merges (../shared/data/gpt2-bpe-tokenizer), SmolLM2's special tokens
 * at ids 0-2 (<|endoftext|>, <|im_start|>, <|im_end|>), its pre-tokenizer (single digits, then GPT-2's regex), its
 * ChatML chat template with the default system message, and random weights scaled so that greedy decoding has clear
 * margins.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type LlamaConfig, ParamStore, llamaParamSpecs, parseLlamaConfig, savePretrained } from "@ortrl/core";
import { SHARED_DIR } from "@ortrl/core/testing";

/** SmolLM2-Instruct's chat template (HuggingFaceTB/SmolLM2-135M-Instruct tokenizer_config.json). */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/**
 * Writes the tokenizer side of the model to `dir` (tokenizer.json, tokenizer_config.json, generation_config.json):
 * the 3 specials, GPT-2's 256 byte tokens and its first `merges` merges. Returns the vocabulary size
 * (3 + 256 + merges; GPT-2 has 50,000 merges, so 48,893 gives SmolLM2's 49,152).
 */
export function writeBpeChatTokenizer(dir: string, merges = 1000): number {
  const src = join(SHARED_DIR, "data/gpt2-bpe-tokenizer");
  const gptVocab = JSON.parse(readFileSync(join(src, "gpt2.vocab"), "utf8")) as Record<string, number>;
  const mergeLines = readFileSync(join(src, "gpt2.merges.txt"), "utf8").split("\n").filter((l) => l && !l.startsWith("#version")).slice(0, merges);
  if (mergeLines.length !== merges) throw new Error(`${src}: ${mergeLines.length} merges, ${merges} asked for`);
  // GPT-2 ids 0-255 are the bytes and id 256 + i is merge i's result: keep those, shifted past the specials.
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => (vocab[s] = i));
  for (const [t, id] of Object.entries(gptVocab)) if (id < 256 + merges) vocab[t] = id + SPECIALS.length;
  const vocabSize = SPECIALS.length + 256 + merges;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel] },
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: mergeLines },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({
    add_prefix_space: false, bos_token: "<|im_start|>", eos_token: "<|im_end|>", pad_token: "<|im_end|>", unk_token: "<|endoftext|>",
    model_max_length: 8192, tokenizer_class: "GPT2Tokenizer", clean_up_tokenization_spaces: false, chat_template: SMOLLM2_CHAT_TEMPLATE,
  }));
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 2 }));
  return vocabSize;
}

/** Writes the model to `dir` and returns its config. `merges` = GPT-2 merges kept. */
export async function makeBpeChatModel(dir: string, merges = 1000, seed = 7): Promise<LlamaConfig> {
  const vocabSize = writeBpeChatTokenizer(dir, merges);
  const config = parseLlamaConfig({
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, vocab_size: vocabSize, max_position_embeddings: 512, rms_norm_eps: 1e-5,
    rope_theta: 100000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32",
  });
  const specs = llamaParamSpecs(config);
  const params = new ParamStore(specs);
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  for (const spec of specs) {
    const w = params.get(spec.name);
    if (spec.shape.length === 1) w.fill(1);
    else {
      const std = spec.name.includes("embed_tokens") ? 1 : 1.5 / Math.sqrt(spec.shape[1]!);
      for (let i = 0; i < w.length; i++) w[i] = normal() * std;
    }
  }
  await savePretrained(dir, { config, params });
  return config;
}
