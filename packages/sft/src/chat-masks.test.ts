/**
 * Assistant-only masks from rendered-prefix differences: the real Phi-3 template through a JSONL
 * file (tokenizer only), and templates of other shapes on the byte tokenizer.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ByteTokenizer, type ChatMessage, IGNORE_INDEX, Tokenizer } from "@ortrl/core";
import { commonPrefixLength } from "./chat-masks.js";
import { buildSftDataset, readSftRecords } from "./sft-data.js";
import { tokenizeSftRecord } from "./sft-tokenize.js";
import { SHARED_DIR as SHARED } from "@ortrl/core/testing";

const PHI3 = join(SHARED, "data/phi3-mini-tokenizer");

const byte = new ByteTokenizer();
const conversation: ChatMessage[] = [
  { role: "system", content: "Be kind." },
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello!" },
  { role: "user", content: "Bye" },
  { role: "assistant", content: "See you\n" },
];

/** The scored text, as runs of consecutive scored tokens. */
function scoredRuns(messages: ChatMessage[], chatTemplate: string | null): string[] {
  const e = tokenizeSftRecord(byte, { format: "conversational", messages }, { completionOnlyLoss: null, assistantOnlyLoss: true, chatTemplate });
  const runs: string[] = [];
  let cur: number[] = [];
  e.labels.forEach((l, t) => {
    if (l !== IGNORE_INDEX) cur.push(e.inputIds[t]!);
    else if (cur.length) {
      runs.push(byte.decode(cur));
      cur = [];
    }
  });
  if (cur.length) runs.push(byte.decode(cur));
  return runs;
}

describe("assistantOnlyLoss with the real Phi-3 chat template", () => {
  const phiConversation = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi there" },
    { role: "assistant", content: "Hello! How can I help?" },
    { role: "user", content: "Tell me a joke." },
    { role: "assistant", content: "Why did the chicken cross the road?" },
  ];
  it("scores exactly the assistant contents and their <|end|>: no user turn, system turn, role header or closing <|endoftext|>", async () => {
    const tok = await Tokenizer.fromDir(PHI3);
    const path = join(mkdtempSync(join(tmpdir(), "ortrl-sft-phi3-")), "chat.jsonl");
    writeFileSync(path, JSON.stringify({ messages: phiConversation }) + "\n");
    const opts = { completionOnlyLoss: null, assistantOnlyLoss: true, chatTemplate: null, maxLength: 1024, packing: false };
    const [e] = buildSftDataset(tok, readSftRecords(path), opts).examples;
    const tokens = e!.inputIds.map((id) => tok.idToToken(id));
    expect(tokens).toEqual([
      "<|system|>", "▁Be", "▁brief", ".", "<|end|>",
      "<|user|>", "▁Hi", "▁there", "<|end|>",
      "<|assistant|>", "▁Hello", "!", "▁How", "▁can", "▁I", "▁help", "?", "<|end|>",
      "<|user|>", "▁Tell", "▁me", "▁a", "▁jo", "ke", ".", "<|end|>",
      "<|assistant|>", "▁Why", "▁did", "▁the", "▁ch", "icken", "▁cross", "▁the", "▁road", "?", "<|end|>",
      "<|endoftext|>",
    ]);
    const kept = e!.labels.flatMap((l, t) => (l === IGNORE_INDEX ? [] : [t]));
    expect(kept).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36]);
    kept.forEach((t) => expect(e!.labels[t]).toBe(e!.inputIds[t]));
    // No BOS: Phi-3's tokenizer_config has add_bos_token false and the template emits none.
    expect(e!.inputIds[0]).not.toBe(tok.bosTokenId);
  });
  it("without assistantOnlyLoss every token is scored (TRL's default for conversational data)", async () => {
    const tok = await Tokenizer.fromDir(PHI3);
    const e = tokenizeSftRecord(tok, { format: "conversational", messages: phiConversation }, { completionOnlyLoss: null, assistantOnlyLoss: false, chatTemplate: null });
    expect(e.labels).toEqual(e.inputIds);
  });
  it("a chatTemplate setting replaces the tokenizer's", async () => {
    const tok = await Tokenizer.fromDir(PHI3);
    const e = tokenizeSftRecord(tok, { format: "conversational", messages: phiConversation.slice(1, 3) }, {
      completionOnlyLoss: null,
      assistantOnlyLoss: true,
      chatTemplate: "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + '<|end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}",
    });
    expect(tok.decode(e.inputIds.filter((_, t) => e.labels[t] !== IGNORE_INDEX))).toBe("Hello! How can I help?<|end|>");
  });
});

describe("assistantOnlyLoss", () => {
  it("EOS-terminated turns (ByteTokenizer's ChatML-style template): content + EOS, nothing else", () => {
    expect(scoredRuns(conversation, null)).toEqual(["Hello!</s>", "See you\n</s>"]);
  });
  it("whitespace after the turn-ending token is not scored; the content's own is", () => {
    const chatml = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    expect(scoredRuns(conversation, chatml)).toEqual(["Hello!</s>", "See you\n</s>"]);
  });
  it("text a template emits only at the end of a conversation is no part of the last turn", () => {
    const closing = "{% for m in messages %}{{ '[' + m['role'] + ']' + m['content'] + eos_token }}{% endfor %}{% if add_generation_prompt %}{{ '[assistant]' }}{% else %}{{ '<END>' }}{% endif %}";
    expect(scoredRuns(conversation, closing)).toEqual(["Hello!</s>", "See you\n</s>"]);
  });
  it("a template that rewrites the content scores the turn from its start", () => {
    const trimming = "{% for m in messages %}{{ '[' + m['role'] + ']' + (m['content'] | upper) + eos_token }}{% endfor %}{% if add_generation_prompt %}{{ '[assistant]' }}{% endif %}";
    expect(scoredRuns(conversation, trimming)).toEqual(["HELLO!</s>", "SEE YOU\n</s>"]);
  });
  it("a template without a generation prompt scores the role header too (the turn cannot be told apart from it)", () => {
    const noGen = "{% for m in messages %}{{ '[' + m['role'] + ']' + (m['content'] | upper) + eos_token }}{% endfor %}";
    expect(scoredRuns(conversation, noGen)).toEqual(["[assistant]HELLO!</s>", "[assistant]SEE YOU\n</s>"]);
  });
  it("a conversation without assistant turns has nothing to score", () => {
    expect(scoredRuns([{ role: "user", content: "Hi" }], null)).toEqual([]);
  });
});

describe("commonPrefixLength", () => {
  it("works on strings and arrays", () => {
    expect(commonPrefixLength("abcd", "abxd")).toBe(2);
    expect(commonPrefixLength([1, 2, 3], [1, 2, 3, 4])).toBe(3);
    expect(commonPrefixLength([], [1])).toBe(0);
  });
});
