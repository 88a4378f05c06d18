/** Tokenization like TRL's SFTTrainer: BOS/EOS, completion-only masks, the EOS label when pad == EOS, truncation. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { ByteTokenizer, IGNORE_INDEX, Tokenizer, collate, countLabelTokens } from "@ortrl/core";
import { type SftTokenizeOptions, tokenizeSftRecord, truncateExample } from "./sft-tokenize.js";
import { buildSftDataset } from "./sft-data.js";
import { sftPadId } from "./sft-module.js";
import { SHARED_DIR as SHARED } from "@ortrl/core/testing";

const STORIES = join(SHARED, "models/stories260K-hf");
const PHI3 = join(SHARED, "data/phi3-mini-tokenizer");
const byte = new ByteTokenizer();
const bytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => b + 3);
const opts: SftTokenizeOptions = { completionOnlyLoss: null, assistantOnlyLoss: false, chatTemplate: null };
const M = IGNORE_INDEX;

describe("prompt-completion and Alpaca", () => {
  it("BOS + prompt + completion + EOS; prompt masked by default, completion and EOS scored", () => {
    const e = tokenizeSftRecord(byte, { format: "prompt_completion", prompt: "Q?", completion: "A." }, opts);
    expect(e.inputIds).toEqual([1, ...bytes("Q?A."), 2]);
    expect(e.labels).toEqual([M, M, M, ...bytes("A."), 2]);
    const alpaca = tokenizeSftRecord(byte, { format: "alpaca", prompt: "### Response:\n", completion: "ok" }, opts);
    expect(alpaca.labels.filter((l) => l !== M)).toEqual([...bytes("ok"), 2]);
  });
  it("completionOnlyLoss false scores the prompt too", () => {
    const e = tokenizeSftRecord(byte, { format: "prompt_completion", prompt: "Q?", completion: "A." }, { ...opts, completionOnlyLoss: false });
    expect(e.labels).toEqual(e.inputIds);
  });
  it("does not double EOS when the completion already ends with it", () => {
    const e = tokenizeSftRecord(byte, { format: "prompt_completion", prompt: "Q", completion: "A</s>" }, opts);
    expect(e.inputIds).toEqual([1, ...bytes("QA"), 2]);
  });
  it("the prompt boundary follows the joint tokenization (stories260K's SentencePiece BPE)", async () => {
    const tok = await Tokenizer.fromDir(STORIES);
    const prompt = "### Response:\n";
    const e = tokenizeSftRecord(tok, { format: "prompt_completion", prompt, completion: "Once upon a time" }, opts);
    expect(e.inputIds).toEqual([tok.bosTokenId, ...tok.encode(prompt + "Once upon a time", { addSpecialTokens: false }), tok.eosTokenId]);
    const scored = e.inputIds.filter((_, t) => e.labels[t] !== M);
    expect(tok.decode(scored)).toBe("Once upon a time</s>");
  });
});

describe("language modeling", () => {
  it("BOS + text + EOS, every token scored", () => {
    const e = tokenizeSftRecord(byte, { format: "language_modeling", text: "hi" }, opts);
    expect(e.inputIds).toEqual([1, ...bytes("hi"), 2]);
    expect(e.labels).toEqual(e.inputIds);
  });
  it("no BOS when the tokenizer config adds none (Phi-3), EOS still appended", async () => {
    const phi = await Tokenizer.fromDir(PHI3);
    const e = tokenizeSftRecord(phi, { format: "language_modeling", text: "Hello" }, opts);
    expect(e.inputIds).toEqual([...phi.encode("Hello", { addSpecialTokens: false }), phi.eosTokenId]);
  });
});

describe("conversational", () => {
  const messages = [
    { role: "user", content: "hi" },
    { role: "assistant", content: "yo" },
  ];
  it("prepends BOS when the template emits none, and does not double it when the template does", () => {
    const plain = tokenizeSftRecord(byte, { format: "conversational", messages }, opts);
    expect(plain.inputIds).toEqual([1, ...byte.encode(byte.applyChatTemplate(messages), { addSpecialTokens: false })]);
    const withBos = "{{ bos_token }}" + F.BYTE_CHAT_TEMPLATE;
    const e = tokenizeSftRecord(byte, { format: "conversational", messages }, { ...opts, chatTemplate: withBos });
    expect(e.inputIds[0]).toBe(1);
    expect(e.inputIds[1]).not.toBe(1);
    expect(e.inputIds.filter((id) => id === 1)).toHaveLength(1);
  });
  it("scores every token, and appends no EOS of its own (the template ends the turn)", () => {
    const e = tokenizeSftRecord(byte, { format: "conversational", messages }, opts);
    expect(e.labels.slice(1)).toEqual(e.inputIds.slice(1));
    expect(byte.decode(e.inputIds)).toBe("<s><|im_start|>user\nhi</s><|im_start|>assistant\nyo</s>");
  });
  it("conversational prompt-completion masks the rendered prompt (with the generation prompt)", () => {
    const e = tokenizeSftRecord(byte, { format: "conversational_prompt_completion", prompt: [messages[0]!], completion: [messages[1]!] }, opts);
    expect(byte.decode(e.inputIds.filter((_, t) => e.labels[t] !== M))).toBe("yo</s>");
    const all = tokenizeSftRecord(byte, { format: "conversational_prompt_completion", prompt: [messages[0]!], completion: [messages[1]!] }, { ...opts, completionOnlyLoss: false });
    expect(all.labels.slice(1)).toEqual(all.inputIds.slice(1));
  });
  it("assistant-only loss on a non-conversational record is an error", () => {
    expect(() => tokenizeSftRecord(byte, { format: "language_modeling", text: "x" }, { ...opts, assistantOnlyLoss: true })).toThrow(/assistantOnlyLoss needs conversational records/);
  });
  it("a tokenizer without a chat template names the problem", async () => {
    const tok = await Tokenizer.fromDir(STORIES);
    expect(() => tokenizeSftRecord(tok, { format: "conversational", messages }, opts)).toThrow(/no chat_template/);
  });
});

describe("EOS when the tokenizer has no pad token (pad id = EOS id)", () => {
  it("the completion's EOS label is kept; only padding is masked; the objective counts the EOS", async () => {
    const model = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
    const tok = model.tokenizer!;
    expect(tok.padTokenId).toBeNull();
    const policy = F.CausalLmPolicy.fromPretrained(model, null, 0);
    const padId = sftPadId(policy);
    expect(padId).toBe(tok.eosTokenId);
    const recs = [
      { file: "m", line: 1, record: { format: "prompt_completion" as const, prompt: "Tom said:", completion: " hi" } },
      { file: "m", line: 2, record: { format: "prompt_completion" as const, prompt: "Lily said:", completion: " Once upon a time there was a dog." } },
    ];
    const { examples } = buildSftDataset(tok, recs, { ...opts, maxLength: 64, packing: false });
    const short = examples[0]!;
    const eosAt = short.inputIds.length - 1;
    expect(short.inputIds[eosAt]).toBe(tok.eosTokenId);
    expect(short.labels[eosAt]).toBe(tok.eosTokenId);

    const batch = collate(examples, padId);
    const labels = Array.from(batch.labels!, Number);
    const ids = Array.from(batch.inputIds, Number);
    expect(ids[eosAt]).toBe(tok.eosTokenId);
    expect(labels[eosAt]).toBe(tok.eosTokenId);
    for (let t = eosAt + 1; t < batch.seqLen; t++) {
      expect(ids[t]).toBe(padId); // padding reuses the EOS id...
      expect(labels[t]).toBe(M); // ...and only padding is masked
    }
    const { count } = await new F.CausalLmObjective(policy, padId).evalStep(examples);
    expect(count).toBe(examples.reduce((n, e) => n + countLabelTokens(e), 0));
    expect(count).toBe(tok.encode(" hi", { addSpecialTokens: false }).length + 1 + tok.encode(" Once upon a time there was a dog.", { addSpecialTokens: false }).length + 1);
  });
});

describe("truncateExample", () => {
  it("keeps the start (TRL truncation_mode keep_start)", () => {
    const e = { inputIds: [1, 2, 3, 4, 5], labels: [M, M, 3, 4, 5] };
    expect(truncateExample(e, 3)).toEqual({ inputIds: [1, 2, 3], labels: [M, M, 3] });
    expect(truncateExample(e, 5)).toBe(e);
  });
});
