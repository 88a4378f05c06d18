/**
 * GGUF export checked by the real consumer: llama.cpp (node-llama-cpp's prebuilt CPU binary) loads each exported
 * file and its greedy continuation equals ortrl's, token for token, up to the first position where ortrl's top-2
 * logit margin is below 1e-3 (llama.cpp keeps its KV cache in f16).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CausalLM, Tokenizer, attachAdapterFromDir, loadPretrained } from "@ortrl/core";
import { exportGguf, exportGgufLora } from "@ortrl/export";
import { SHARED, expectOk, ortrl } from "./helpers/cli.js";
import { makeBpeChatModel } from "./helpers/bpe-chat-model.js";
import { agreeing, comparablePrefix, llamaCpp, llamaCppDetokenize, llamaCppGreedy, llamaCppTokenize, ortrlGreedy } from "./helpers/llama-cpp.js";

const STORIES = join(SHARED, "models/stories260K-hf");
const N = 48;
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-gguf-"));
});
afterAll(async () => {
  await (await llamaCpp()).dispose();
});

/** Asserts llama.cpp's greedy tokens equal ortrl's over the comparable prefix; returns how many agree. */
async function expectSameGreedy(gguf: string, lm: CausalLM, prompt: number[], opts: { lora?: string[]; atLeast?: number } = {}): Promise<{ agree: number; comparable: number }> {
  const ours = await ortrlGreedy(lm, prompt, N);
  const theirs = await llamaCppGreedy(gguf, prompt, N, opts.lora);
  const comparable = comparablePrefix(ours.margins);
  const agree = agreeing(ours.ids, theirs);
  const want = opts.atLeast ?? comparable;
  console.info(`${gguf}: llama.cpp agrees with ortrl on ${agree}/${ours.ids.length} greedy tokens; ortrl's margins >= 1e-3 on the first ${comparable}`);
  expect(comparable, "ortrl's own margins leave too little to compare").toBeGreaterThanOrEqual(Math.min(want, 20));
  expect(theirs.slice(0, want), `llama.cpp vs ortrl (agree on ${agree})`).toEqual(ours.ids.slice(0, want));
  return { agree, comparable };
}

describe("stories260K (SentencePiece-style BPE) through llama.cpp", () => {
  let lm: CausalLM;
  let tok: Tokenizer;
  const prompt = "Once upon a time, there was a little dog named";
  beforeAll(async () => {
    const m = await loadPretrained(STORIES);
    lm = m.lm;
    tok = m.tokenizer as Tokenizer;
  });

  for (const outtype of ["f32", "f16"] as const) {
    it(`${outtype}: greedy continuation equals ortrl's`, async () => {
      const gguf = join(tmp, `stories-${outtype}.gguf`);
      await exportGguf({ modelDir: STORIES, output: gguf, outtype });
      await expectSameGreedy(gguf, lm, tok.encode(prompt));
    });
  }

  it("q8_0: the first 20 tokens equal ortrl's; down_proj (172 per row) falls back to f16", async () => {
    const gguf = join(tmp, "stories-q8_0.gguf");
    const r = await exportGguf({ modelDir: STORIES, output: gguf, outtype: "q8_0" });
    expect(r.fallbacks).toEqual([0, 1, 2, 3, 4].map((i) => `blk.${i}.ffn_down.weight`));
    expect(r.tensors.find((t) => t.name === "blk.0.attn_q.weight")?.type).toBe("Q8_0");
    expect(r.tensors.find((t) => t.name === "blk.0.attn_norm.weight")?.type).toBe("F32");
    await expectSameGreedy(gguf, lm, tok.encode(prompt), { atLeast: 20 });
  });

  it("f32: llama.cpp's greedy text equals what `ortrl generate --temperature 0` prints", async () => {
    const gguf = join(tmp, "stories-f32.gguf");
    const r = ortrl(["generate", "--model", STORIES, "--prompt", prompt, "--temperature", "0", "--max-new-tokens", "40"]);
    expectOk(r);
    const ids = await llamaCppGreedy(gguf, tok.encode(prompt), 40);
    const eos = ids.indexOf(tok.eosTokenId!);
    expect(r.stdout).toBe((await llamaCppDetokenize(gguf, eos < 0 ? ids : ids.slice(0, eos))) + "\n");
  });

  it("llama.cpp tokenizes text as ortrl does", async () => {
    const gguf = join(tmp, "stories-f32.gguf");
    for (const text of ["Once upon a time, there was a little girl.", "Tom said: \"Hello!\" 123 times.\nThe end.", "naïve café — ünïcödé 😀"]) {
      expect(await llamaCppTokenize(gguf, text), text).toEqual(tok.encode(text, { addSpecialTokens: false }));
    }
  });
});

describe("LoRA SFT model through llama.cpp", () => {
  let out: string;
  let lm: CausalLM;
  let prompt: number[];
  beforeAll(async () => {
    out = join(tmp, "sft-lora");
    expectOk(ortrl(["train", "sft", "--model", STORIES, "--data", join(SHARED, "data/alpaca-en-demo/alpaca_en_demo.json"), "--target-modules", "all-linear",
      "--lora-r", "8", "--lora-alpha", "16", "--learning-rate", "3e-3", "--max-steps", "12", "--per-device-train-batch-size", "4", "--max-seq-length", "128",
      "--save-steps", "0", "--logging-steps", "4", "--output-dir", out]));
    const m = await loadPretrained(STORIES);
    lm = (await attachAdapterFromDir(m.lm, out)).lm;
    prompt = (m.tokenizer as Tokenizer).encode("Once upon a time, a girl named Lily");
  });

  it("exported with --adapter (merged): greedy continuation equals ortrl's with the adapter", async () => {
    const gguf = join(tmp, "sft-merged.gguf");
    await exportGguf({ modelDir: STORIES, adapterDir: out, output: gguf, outtype: "f32" });
    const base = await llamaCppGreedy(join(tmp, "stories-f32.gguf"), prompt, N);
    const { agree } = await expectSameGreedy(gguf, lm, prompt);
    // The adapter changed what the model says (else this test could not tell merged from base).
    expect(agreeing(base, await llamaCppGreedy(gguf, prompt, N))).toBeLessThan(agree);
  });

  it("as a GGUF LoRA adapter on the base GGUF (llama.cpp --lora): greedy continuation equals ortrl's", async () => {
    const lora = join(tmp, "sft-lora.gguf");
    const r = await exportGgufLora({ modelDir: STORIES, adapterDir: out, output: lora });
    expect(r.tensors.map((t) => t.name)).toContain("blk.0.attn_q.weight.lora_a");
    const cfg = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8")) as { r: number };
    expect(r.tensors.find((t) => t.name === "blk.0.attn_q.weight.lora_b")?.dims).toEqual([cfg.r, 64]);
    await expectSameGreedy(join(tmp, "stories-f32.gguf"), lm, prompt, { lora: [lora] });
  });
});

describe("byte-level BPE model with a ChatML template (SmolLM2's layout) through llama.cpp", () => {
  let dir: string;
  let lm: CausalLM;
  let tok: Tokenizer;
  let gguf: string;
  beforeAll(async () => {
    dir = join(tmp, "bpe-chat");
    await makeBpeChatModel(dir);
    const m = await loadPretrained(dir);
    lm = m.lm;
    tok = m.tokenizer as Tokenizer;
    gguf = join(tmp, "bpe-chat.gguf");
    await exportGguf({ modelDir: dir, output: gguf, outtype: "f32" });
  });

  it("writes the smollm pre-tokenizer, merges and the chat template", async () => {
    const model = await (await llamaCpp()).loadModel({ modelPath: gguf, vocabOnly: true });
    try {
      expect(model.fileInfo.metadata.tokenizer.ggml.model).toBe("gpt2");
      expect((model.fileInfo.metadata.tokenizer.ggml as unknown as Record<string, unknown>).pre).toBe("smollm");
      expect(model.fileInfo.metadata.tokenizer.chat_template).toBe(tok.chatTemplate);
      expect(model.tokens.eos).toBe(2);
    } finally {
      await model.dispose();
    }
  });

  it("llama.cpp tokenizes a rendered chat (special tokens, digits, unicode) as ortrl does", async () => {
    const text = tok.applyChatTemplate([{ role: "user", content: "What is 1234 + 5678? Answer   with digits, s'il vous plaît." }, { role: "assistant", content: "6912" }, { role: "user", content: "Thanks!\n\nBye" }], { addGenerationPrompt: true });
    expect(await llamaCppTokenize(gguf, text)).toEqual(tok.encode(text, { addSpecialTokens: false }));
  });

  it("greedy continuation of a chat prompt equals ortrl's", async () => {
    const text = tok.applyChatTemplate([{ role: "user", content: "Tell me a story about 3 cats." }], { addGenerationPrompt: true });
    await expectSameGreedy(gguf, lm, tok.encode(text, { addSpecialTokens: false }));
  });
});
