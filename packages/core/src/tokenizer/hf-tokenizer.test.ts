/** Tokenizer (Hugging Face tokenizer.json + tokenizer_config.json) on the shared tokenizers: ids, special tokens, chat templates, errors. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHARED_DIR } from "../testing/fixtures.js";
import { ByteTokenizer } from "./byte-tokenizer.js";
import type { ChatMessage } from "./chat-template.js";
import { Tokenizer } from "./hf-tokenizer.js";

const SHARED = SHARED_DIR;
const STORIES = join(SHARED, "models/stories260K-hf");
const LLAMA2 = join(SHARED, "data/llama2-tokenizer");
const PHI3 = join(SHARED, "data/phi3-mini-tokenizer");

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;

const ROUND_TRIP = [
  "Hello world",
  "héllo 世界 🤗",
  "Ünïcödé — “quotes” 日本語 😀👍🏽",
  "a\nb\tc",
  "  two  spaces",
  "x",
];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ortrl-tokenizer-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("Tokenizer: stories260K-hf", () => {
  let tok: Tokenizer;
  let expected: { text: string; input_ids: number[]; greedy_from_bos_ids: number[]; greedy_from_bos_text: string };
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(STORIES);
    expected = JSON.parse(await readFile(join(SHARED, "fixtures/stories260K/expected.json"), "utf8"));
  });

  it("encodes the fixture sentence to its input_ids, BOS first", () => {
    const ids = tok.encode(expected.text);
    expect(ids[0]).toBe(1);
    expect(ids).toEqual(expected.input_ids);
    expect(tok.encode(expected.text, { addSpecialTokens: false })).toEqual(expected.input_ids.slice(1));
  });

  it("decodes the greedy continuation to its text", () => {
    expect(tok.decode(expected.greedy_from_bos_ids)).toBe(expected.greedy_from_bos_text);
    expect(tok.decode([1, ...expected.greedy_from_bos_ids], { skipSpecialTokens: true })).toBe(expected.greedy_from_bos_text);
  });

  it("reads special tokens and limits from tokenizer_config.json", () => {
    expect([tok.bosToken, tok.bosTokenId, tok.eosToken, tok.eosTokenId]).toEqual(["<s>", 1, "</s>", 2]);
    expect([tok.padToken, tok.padTokenId]).toEqual([null, null]);
    expect(tok.vocabSize).toBe(512);
    expect(tok.modelMaxLength).toBe(512);
    expect([tok.addBosToken, tok.addEosToken]).toEqual([true, false]);
    expect(tok.chatTemplate).toBeNull();
  });

  it("matches SentencePiece (tok512.model) on leading whitespace", () => {
    // Ids from sentencepiece 0.1.97 with shared/data/stories260K/tok512.model. The Rust `tokenizers` crate
    // (0.23, hence transformers' AutoTokenizer) gives [1, 440, 411, 306, 414] for " Hello": its Metaspace
    // "first" prepend scheme skips the "▁" once the normalizer has removed the leading space.
    expect(tok.encode(" Hello")).toEqual([1, 346, 306, 414]);
    expect(tok.encode("Hello")).toEqual([1, 346, 306, 414]);
    expect(tok.encode("  two  spaces")).toEqual([1, 259, 424, 414, 262, 427, 412, 331, 419]);
  });

  it("round-trips unicode through byte fallback", () => {
    for (const s of ["héllo 世界 🤗", "a\nb", "Lily's mom said, \"no.\""]) {
      expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
    }
  });
});

describe("Tokenizer: Llama-2", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(LLAMA2);
  });

  it("encodes known ids with BOS", () => {
    expect(tok.encode("Hello")).toEqual([1, 15043]);
    expect(tok.encode("Hello world")).toEqual([1, 15043, 3186]);
    expect(tok.encode("Hello", { addSpecialTokens: false })).toEqual([15043]);
    // Same ids from the Rust tokenizers crate 0.23.
    expect(tok.encode("héllo 世界 🤗")).toEqual([1, 298, 3610, 417, 29871, 30793, 30967, 29871, 243, 162, 167, 154]);
    expect(tok.encode("")).toEqual([1]);
  });

  it("decodes with and without special tokens", () => {
    expect(tok.decode([1, 15043])).toBe("<s> Hello");
    expect(tok.decode([1, 15043], { skipSpecialTokens: true })).toBe("Hello");
    expect(tok.decode([])).toBe("");
  });

  it("round-trips text", () => {
    for (const s of ROUND_TRIP) expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
  });

  it("reads special tokens (AddedToken objects) and the 1e30 'no limit' max length", () => {
    expect([tok.bosToken, tok.bosTokenId, tok.eosToken, tok.eosTokenId, tok.padTokenId]).toEqual(["<s>", 1, "</s>", 2, null]);
    expect(tok.vocabSize).toBe(32000);
    expect(tok.modelMaxLength).toBe(Number.POSITIVE_INFINITY);
    expect([tok.addBosToken, tok.addEosToken]).toEqual([true, false]);
    expect(tok.tokenToId("▁Hello")).toBe(15043);
    expect(tok.idToToken(15043)).toBe("▁Hello");
    expect(tok.tokenToId("no such token")).toBeNull();
  });

  it("has no chat template: throws, or renders one passed in", () => {
    expect(tok.chatTemplate).toBeNull();
    const msgs: ChatMessage[] = [{ role: "user", content: "Hi" }];
    expect(() => tok.applyChatTemplate(msgs)).toThrow(`tokenizer at ${LLAMA2} has no chat_template; pass --chat-template FILE (chat_template in a config file)`);
    const t = "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}{% if add_generation_prompt %}>{% endif %}";
    expect(tok.applyChatTemplate(msgs, { chatTemplate: t, addGenerationPrompt: true })).toBe("<s>[INST] Hi [/INST]>");
  });

  it("throws on ids outside the vocabulary", () => {
    expect(() => tok.decode([1, 32000])).toThrow(/ids\[1\] = 32000 is not in the vocabulary/);
    expect(() => tok.decode([1.5])).toThrow(/not in the vocabulary/);
  });

  it("add_bos_token / add_eos_token in tokenizer_config override the post-processor", async () => {
    const tj = await readJson(join(LLAMA2, "tokenizer.json"));
    const cfg = await readJson(join(LLAMA2, "tokenizer_config.json"));
    const eos = Tokenizer.fromJSON(tj, { ...cfg, add_eos_token: true });
    expect([eos.addBosToken, eos.addEosToken]).toEqual([true, true]);
    expect(eos.encode("Hello")).toEqual([1, 15043, 2]);
    expect(eos.encode("Hello", { addSpecialTokens: false })).toEqual([15043]);
    const noBos = Tokenizer.fromJSON(tj, { ...cfg, add_bos_token: false });
    expect(noBos.encode("Hello")).toEqual([15043]);
    // Neither key: the tokenizer.json post-processor (TemplateProcessing "<s> $A") decides.
    const { add_bos_token: _b, add_eos_token: _e, ...bare } = cfg;
    const pp = Tokenizer.fromJSON(tj, bare);
    expect([pp.addBosToken, pp.addEosToken]).toEqual([true, false]);
    expect(pp.encode("Hello")).toEqual([1, 15043]);
    // Only add_eos_token: BOS still follows the post-processor.
    const onlyEos = Tokenizer.fromJSON(tj, { ...bare, add_eos_token: true });
    expect(onlyEos.encode("Hello")).toEqual([1, 15043, 2]);
  });
});

describe("Tokenizer: Phi-3 mini", () => {
  let tok: Tokenizer;
  const conversation: ChatMessage[] = [
    { role: "user", content: "Hello" },
    { role: "assistant", content: "Hi there!" },
    { role: "user", content: "How are you?" },
  ];
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(PHI3);
  });

  it("reads special tokens; add_bos_token false means no BOS", () => {
    expect([tok.bosToken, tok.bosTokenId]).toEqual(["<s>", 1]);
    expect([tok.eosToken, tok.eosTokenId, tok.padToken, tok.padTokenId]).toEqual(["<|endoftext|>", 32000, "<|endoftext|>", 32000]);
    expect(tok.vocabSize).toBe(32011);
    expect(tok.modelMaxLength).toBe(4096);
    expect([tok.addBosToken, tok.addEosToken]).toEqual([false, false]);
    expect(tok.encode("Hello")).toEqual([15043]);
    expect(tok.encode("Hello world")).toEqual([15043, 3186]);
  });

  it("round-trips text", () => {
    for (const s of ROUND_TRIP) expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
  });

  it("renders its chat template with a generation prompt", () => {
    expect(tok.applyChatTemplate(conversation, { addGenerationPrompt: true })).toBe(
      "<|user|>\nHello<|end|>\n<|assistant|>\nHi there!<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n",
    );
  });

  it("renders eos_token instead when there is no generation prompt", () => {
    expect(tok.applyChatTemplate(conversation.slice(0, 2))).toBe("<|user|>\nHello<|end|>\n<|assistant|>\nHi there!<|end|>\n<|endoftext|>");
  });

  it("encodes a rendered chat with its added tokens (ids as from the Rust tokenizers crate)", () => {
    const text = tok.applyChatTemplate([{ role: "system", content: "You are terse." }, ...conversation], { addGenerationPrompt: true });
    expect(text.startsWith("<|system|>\nYou are terse.<|end|>\n")).toBe(true);
    const ids = tok.encode(text);
    // The chat tokens have rstrip=true, so the "\n" after each is absorbed (as in transformers).
    expect(ids).toEqual([
      32006, 887, 526, 1935, 344, 29889, 32007, 32010, 15043, 32007, 32001, 6324, 727, 29991, 32007, 32010, 1128, 526, 366, 29973,
      32007, 32001,
    ]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("You are terse. Hello Hi there! How are you?");
  });

  it("passes template variables and raise_exception", () => {
    const t = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first turn must be user') }}{% endif %}{{ greeting }}";
    expect(tok.applyChatTemplate(conversation, { chatTemplate: t, templateVars: { greeting: "hey" } })).toBe("hey");
    expect(() => tok.applyChatTemplate([{ role: "assistant", content: "x" }], { chatTemplate: t })).toThrow(
      "chat template failed to render: first turn must be user",
    );
    expect(() => tok.applyChatTemplate(conversation, { chatTemplate: "{% if %}" })).toThrow(/chat template does not parse/);
  });
});

describe("Tokenizer.fromDir errors", () => {
  it("names a missing tokenizer.json", async () => {
    await expect(Tokenizer.fromDir(join(tmp, "nowhere"))).rejects.toThrow(/cannot read .*nowhere\/tokenizer\.json/);
  });

  it("names a malformed tokenizer_config.json", async () => {
    const dir = join(tmp, "bad-config");
    await new ByteTokenizer().saveTo(dir);
    await writeFile(join(dir, "tokenizer_config.json"), "{ not json");
    await expect(Tokenizer.fromDir(dir)).rejects.toThrow(/bad-config\/tokenizer_config\.json is not valid JSON/);
  });

  it("names a tokenizer.json without a model", async () => {
    const dir = join(tmp, "no-model");
    await new ByteTokenizer().saveTo(dir);
    await writeFile(join(dir, "tokenizer.json"), "{}");
    await expect(Tokenizer.fromDir(dir)).rejects.toThrow(/no-model tokenizer\.json has no 'model'/);
  });
});
