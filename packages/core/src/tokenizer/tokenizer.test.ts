import { SHARED_DIR } from "../testing/fixtures.js";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BYTE_CHAT_TEMPLATE, ByteTokenizer, Tokenizer, type ChatMessage } from "./tokenizer.js";

// shared/ sits beside the repository root (/work/shared here; CI lays it out the same way).
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

describe("shared dir", () => {
  it("resolves beside the repository root", async () => {
    expect(SHARED.endsWith("/shared/")).toBe(true);
    await expect(readFile(join(SHARED, "README.md"), "utf8")).resolves.toContain("shared/");
  });
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

describe("ByteTokenizer", () => {
  const bt = new ByteTokenizer();
  /** shared/reference/eval_ref.py's "bytes" encoding. */
  const evalRef = (t: string) => [1, ...Array.from(Buffer.from(t, "utf8"), (b) => 3 + b)];
  const SAMPLES = ["", "Hello", "héllo 世界 🤗", "a\nb\r\n\tc  ", "Once upon a time, there was a little dog named Max."];

  it("has ids 0 <unk>, 1 <s>, 2 </s>, 3 + byte", () => {
    expect([bt.unkTokenId, bt.bosTokenId, bt.eosTokenId, bt.padTokenId]).toEqual([0, 1, 2, null]);
    expect([bt.bosToken, bt.eosToken, bt.padToken, bt.vocabSize]).toEqual(["<s>", "</s>", null, 259]);
    expect([bt.addBosToken, bt.addEosToken, bt.modelMaxLength]).toEqual([true, false, Number.POSITIVE_INFINITY]);
    expect(bt.encode("Hi é")).toEqual([1, 75, 108, 35, 3 + 0xc3, 3 + 0xa9]);
    expect(bt.idToToken(3 + 0x41)).toBe("<0x41>");
    expect(bt.tokenToId("<0x41>")).toBe(3 + 0x41);
    expect(bt.tokenToId("</s>")).toBe(2);
    expect(bt.idToToken(259)).toBeNull();
  });

  it("matches eval_ref.py's bytes encoding", async () => {
    const text = (await readFile(join(SHARED, "data/tinyshakespeare/input.txt"), "utf8")).slice(0, 4000);
    for (const s of [...SAMPLES, text]) expect(bt.encode(s)).toEqual(evalRef(s));
    expect(bt.encode("Hello", { addSpecialTokens: false })).toEqual(evalRef("Hello").slice(1));
  });

  it("turns literal special-token strings into their ids", () => {
    expect(bt.encode("a</s><s><unk>b", { addSpecialTokens: false })).toEqual([3 + 97, 2, 1, 0, 3 + 98]);
    expect(bt.encode("</s", { addSpecialTokens: false })).toEqual(evalRef("</s").slice(1));
  });

  it("round-trips and skips special tokens", () => {
    for (const s of SAMPLES) expect(bt.decode(bt.encode(s), { skipSpecialTokens: true })).toBe(s);
    expect(bt.decode([1, 3 + 72, 3 + 105, 2])).toBe("<s>Hi</s>");
    // A special token between the bytes of one character: removed before the bytes are decoded.
    expect(bt.decode([3 + 0xc3, 2, 3 + 0xa9], { skipSpecialTokens: true })).toBe("é");
    expect(bt.decode([3 + 0xff])).toBe("\ufffd");
    expect(() => bt.decode([259])).toThrow(/ids\[0\] = 259 is outside the vocabulary/);
  });

  it("renders its ChatML-like template; EOS ends each turn", () => {
    const msgs: ChatMessage[] = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!" },
    ];
    expect(bt.chatTemplate).toBe(BYTE_CHAT_TEMPLATE);
    const text = bt.applyChatTemplate(msgs);
    expect(text).toBe("<|im_start|>system\nBe brief.</s><|im_start|>user\nHi</s><|im_start|>assistant\nHello!</s>");
    expect(bt.applyChatTemplate(msgs.slice(0, 2), { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nBe brief.</s><|im_start|>user\nHi</s><|im_start|>assistant\n",
    );
    const ids = bt.encode(text);
    expect(ids.filter((i) => i === 2)).toHaveLength(3);
    expect(ids[ids.length - 1]).toBe(2);
  });

  it("saves a HF tokenizer.json that Tokenizer.fromDir loads back identically", async () => {
    const dir = join(tmp, "bytes");
    const small = new ByteTokenizer({ modelMaxLength: 512 });
    await small.saveTo(dir);
    const hf = await Tokenizer.fromDir(dir);
    expect([hf.bosTokenId, hf.eosTokenId, hf.padTokenId, hf.vocabSize]).toEqual([1, 2, null, 259]);
    expect([hf.addBosToken, hf.addEosToken, hf.modelMaxLength]).toEqual([true, false, 512]);
    expect(hf.chatTemplate).toBe(BYTE_CHAT_TEMPLATE);

    const text = (await readFile(join(SHARED, "data/tinyshakespeare/input.txt"), "utf8")).slice(0, 20000);
    const cases = [...SAMPLES, text, "a</s><s><unk>b", "<|im_start|>user\nHi</s>", "<s", "\u0000\u007f\u00ff\uffff"];
    for (const s of cases) {
      expect(hf.encode(s)).toEqual(small.encode(s));
      expect(hf.encode(s, { addSpecialTokens: false })).toEqual(small.encode(s, { addSpecialTokens: false }));
    }
    const idLists = [
      [1, 3 + 72, 3 + 105, 2],
      [3 + 0xc3, 2, 3 + 0xa9],
      [3 + 0xff, 3 + 0x41, 0, 3 + 0xe4, 3 + 0xb8],
      small.encode("héllo 世界 🤗"),
    ];
    for (const ids of idLists) {
      expect(hf.decode(ids)).toBe(small.decode(ids));
      expect(hf.decode(ids, { skipSpecialTokens: true })).toBe(small.decode(ids, { skipSpecialTokens: true }));
    }
    const msgs: ChatMessage[] = [{ role: "user", content: "Hi" }];
    expect(hf.applyChatTemplate(msgs, { addGenerationPrompt: true })).toBe(small.applyChatTemplate(msgs, { addGenerationPrompt: true }));
  });

  it("toJSON omits an unlimited model_max_length", () => {
    const { tokenizer, tokenizerConfig } = bt.toJSON();
    expect("model_max_length" in tokenizerConfig).toBe(false);
    expect((tokenizer.model as { merges: unknown[] }).merges).toEqual([]);
  });
});
