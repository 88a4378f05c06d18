/** ByteTokenizer: ids, eval_ref.py's "bytes" encoding, its chat template, and the HF tokenizer.json it saves. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHARED_DIR } from "../testing/fixtures.js";
import { BYTE_CHAT_TEMPLATE, ByteTokenizer } from "./byte-tokenizer.js";
import type { ChatMessage } from "./chat-template.js";
import { Tokenizer } from "./hf-tokenizer.js";

const SHARED = SHARED_DIR;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ortrl-byte-tokenizer-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
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
