/**
 * Preference data: format detection on real files (hh-rlhf .jsonl.gz with implicit prompts,
 * LLaMA-Factory's ShareGPT ranking) and inline records, tokenization (BOS once, EOS appended),
 * TRL's truncation, and bad input: each a DataError naming the file, record and field, or a counted
 * warning.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as F from "@ortrl/core";
import { SHARED_DIR, STORIES_DIR } from "@ortrl/core/testing";
import { buildDpoDataset, detectPair, readPreferenceRecords, splitCommonPrefix, tokenizePair, truncatePair } from "./dpo-data.js";

const HH = `${SHARED_DIR}data/hh-rlhf-harmless-base-test/test.jsonl.gz`;
const DEMO = `${SHARED_DIR}data/dpo-en-demo/dpo_en_demo.json`;
const tmp = mkdtempSync(join(tmpdir(), "ortrl-dpo-data-"));
const write = (name: string, lines: unknown[]) => {
  const p = join(tmp, name);
  writeFileSync(p, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return p;
};
const at = (record: Record<string, unknown>, line = 3) => detectPair("pairs.jsonl", { line, record });
let tok: F.TokenizerLike;
const opts = { chatTemplate: null, maxLength: 1024, maxPromptLength: 512, maxCompletionLength: null };
const TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

beforeAll(async () => {
  tok = await F.Tokenizer.fromDir(STORIES_DIR);
});

describe("formats", () => {
  it("reads hh-rlhf (.jsonl.gz) with the prompt cut at the last common whitespace", () => {
    const recs = readPreferenceRecords(HH);
    expect(recs).toHaveLength(2312);
    for (const r of recs.slice(0, 50)) {
      expect(r.pair.format).toBe("implicit_prompt");
      const p = r.pair as { prompt: string; chosen: string; rejected: string };
      expect(p.prompt.startsWith("\n\nHuman:")).toBe(true);
      expect(/\s$/.test(p.prompt)).toBe(false);
      expect(p.chosen !== p.rejected).toBe(true);
    }
    // Most prompts end with the last assistant marker: the answers differ from their first word.
    const atMarker = recs.filter((r) => (r.pair as { prompt: string }).prompt.endsWith("\n\nAssistant:")).length;
    expect(atMarker / recs.length).toBeGreaterThan(0.8);
  });

  it("reads the ShareGPT ranking form of dpo-en-demo as conversational pairs", () => {
    const recs = readPreferenceRecords(DEMO);
    expect(recs).toHaveLength(300);
    const first = recs[0]!.pair;
    expect(first.format).toBe("sharegpt");
    if (first.format !== "sharegpt") return;
    expect(first.prompt[0]!.role).toBe("user");
    expect(first.chosen).toEqual([{ role: "assistant", content: expect.stringContaining("That sounds like a fun") }]);
    expect(recs.some((r) => r.pair.format === "sharegpt" && r.pair.prompt[0]!.role === "system")).toBe(true);
  });

  it("detects standard, conversational and implicit conversational records", () => {
    expect(at({ prompt: "Q", chosen: " a", rejected: " b" }).format).toBe("standard");
    const u = { role: "user", content: "hi" };
    const a = (c: string) => ({ role: "assistant", content: c });
    expect(at({ prompt: [u], chosen: [a("x")], rejected: [a("y")] }).format).toBe("conversational");
    const imp = at({ chosen: [u, a("x")], rejected: [u, a("y")] });
    expect(imp).toEqual({ format: "conversational_implicit_prompt", prompt: [u], chosen: [a("x")], rejected: [a("y")] });
  });

  it("splits an implicit prompt before the differing word, whitespace going to the completions", () => {
    expect(splitCommonPrefix("A: No, sorry", "A: Not really")).toEqual({ prompt: "A:", chosen: " No, sorry", rejected: " Not really" });
    expect(splitCommonPrefix("A: Yes", "A: No")).toEqual({ prompt: "A:", chosen: " Yes", rejected: " No" });
  });
});

describe("tokenization and truncation", () => {
  it("prompt = BOS + tokens, completions = tokens + EOS; BOS is not doubled", () => {
    const e = tokenizePair(tok, { format: "standard", prompt: "Once upon a time", chosen: " there was a cat.", rejected: " a dog ran." }, opts);
    expect(e.promptIds[0]).toBe(tok.bosTokenId);
    expect(e.promptIds.filter((t) => t === tok.bosTokenId)).toHaveLength(1);
    expect(e.chosenIds.at(-1)).toBe(tok.eosTokenId);
    expect(e.rejectedIds.at(-1)).toBe(tok.eosTokenId);
    expect(tok.decode(e.chosenIds, { skipSpecialTokens: true })).toContain("there was a cat.");
    const again = tokenizePair(tok, { format: "standard", prompt: "<s>Once", chosen: " a", rejected: " b" }, opts);
    expect(again.promptIds.filter((t) => t === tok.bosTokenId)).toHaveLength(1);
  });

  it("renders conversational pairs with a chat template, completion = full conversation minus prompt", () => {
    const u = { role: "user", content: "Say hi." };
    const e = tokenizePair(tok, { format: "conversational", prompt: [u], chosen: [{ role: "assistant", content: "hi" }], rejected: [{ role: "assistant", content: "no" }] }, { ...opts, chatTemplate: TEMPLATE });
    expect(tok.decode(e.chosenIds, { skipSpecialTokens: true })).toBe("hi\n");
    expect(() => tokenizePair(tok, { format: "conversational", prompt: [u], chosen: [u], rejected: [u] }, opts)).toThrow(/no chat_template; pass --chat-template/);
  });

  it("keeps the end of the prompt (and its BOS) and the start of the completions", () => {
    const e = { promptIds: [1, 10, 11, 12, 13, 14], chosenIds: [20, 21, 22, 23, 2], rejectedIds: [30, 31, 2] };
    const t = truncatePair(e, { maxLength: 7, maxPromptLength: 4, maxCompletionLength: null }, 1);
    expect(t).toEqual({ example: { promptIds: [1, 12, 13, 14], chosenIds: [20, 21, 22], rejectedIds: [30, 31, 2] }, truncated: true });
    expect(truncatePair(e, { maxLength: 100, maxPromptLength: null, maxCompletionLength: 2 }, 1).example.chosenIds).toEqual([20, 21]);
    expect(truncatePair(e, { maxLength: 100, maxPromptLength: 100, maxCompletionLength: null }, 1).truncated).toBe(false);
  });

  it("builds hh-rlhf pairs at a small max length with a counted truncation warning", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const ds = buildDpoDataset(tok, readPreferenceRecords(HH).slice(0, 40), { ...opts, maxLength: 128, maxPromptLength: 96 });
      expect(ds.stats.pairs + ds.stats.identical + ds.stats.allPrompt).toBe(40);
      expect(ds.stats.truncated).toBeGreaterThan(0);
      for (const e of ds.examples) expect(e.promptIds.length + Math.max(e.chosenIds.length, e.rejectedIds.length)).toBeLessThanOrEqual(128);
      expect(warn.mock.calls.some(([m]) => /truncated \d+ of 40 training pairs to maxLength 128, maxPromptLength 96/.test(String(m)))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("bad input", () => {
  it("a missing field is a DataError naming the file, line and field", () => {
    expect(() => at({ prompt: "Q", chosen: "a" })).toThrow(/^pairs\.jsonl:3: record has no 'rejected' field$/);
    expect(() => at({ prompt: "Q", chosen: "a", rejected: 5 })).toThrow(/'chosen' and 'rejected' must both be strings or both be message lists, got string and number/);
    expect(() => at({ question: "q", answer: "a" })).toThrow(/record fits no preference format \(fields seen: question, answer\)/);
    expect(() => at({ prompt: [{ role: "user" }], chosen: [], rejected: [] })).toThrow(/field 'chosen' is an empty message list/);
    expect(() => at({ conversations: [{ from: "robot", value: "x" }], chosen: { from: "gpt", value: "a" }, rejected: { from: "gpt", value: "b" } })).toThrow(/conversations\[0\]\.from must be one of human, gpt, system/);
    const file = write("bad.jsonl", [{ prompt: "Q", chosen: "a", rejected: "b" }, "{oops"]);
    expect(() => readPreferenceRecords(file)).toThrow(/bad\.jsonl:2: invalid JSON/);
    expect(() => readPreferenceRecords(join(tmp, "absent.jsonl"))).toThrow(/absent\.jsonl: file not found/);
  });

  it("pairs with an empty chosen or rejected text are skipped and counted when read; all empty is an error", () => {
    const file = write("empties.jsonl", [
      { prompt: "Q", chosen: "a", rejected: "  " },
      { prompt: "Q", chosen: "a", rejected: "b" },
      { conversations: [{ from: "human", value: "Q" }], chosen: { from: "gpt", value: "" }, rejected: { from: "gpt", value: "b" } },
    ]);
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(readPreferenceRecords(file).map((r) => r.line)).toEqual([2]);
      expect(warn.mock.calls.map(([m]) => String(m))).toEqual([`${file}: skipped 2 of 3 records with an empty 'rejected' or 'chosen' (lines 1, 3)`]);
    } finally {
      warn.mockRestore();
    }
    const all = write("all-empty.jsonl", [{ prompt: "Q", chosen: "", rejected: "b" }]);
    expect(() => readPreferenceRecords(all)).toThrow(/all-empty\.jsonl: no record left: the only record has an empty 'chosen' \(line 1\)/);
  });

  it("identical completions and all-prompt pairs are skipped and counted; nothing left is an error", () => {
    const file = write("skips.jsonl", [
      { prompt: "Once upon a time", chosen: " there was a cat.", rejected: " there was a cat." },
      { prompt: "Once upon a time there was a very long prompt indeed", chosen: " a", rejected: " b" },
      { prompt: "Once", chosen: " a big cat", rejected: " a small dog" },
    ]);
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const ds = buildDpoDataset(tok, readPreferenceRecords(file), { ...opts, maxLength: 8, maxPromptLength: 8 });
      expect(ds.stats).toMatchObject({ records: 3, identical: 1, allPrompt: 1, pairs: 1 });
      expect(warn.mock.calls.some(([m]) => /skipped 2 of 3 training pairs \(1 with identical chosen and rejected completions, 0 identical after truncation, 1 with no completion token left/.test(String(m)))).toBe(true);
      const only = write("only-bad.jsonl", [{ prompt: "Q", chosen: " same", rejected: " same" }]);
      expect(() => buildDpoDataset(tok, readPreferenceRecords(only), opts)).toThrow(/only-bad\.jsonl: no training pair is left \(1 with identical/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("length limits for a model", () => {
  it("default the prompt to half of maxLength and scale both into a shorter context", async () => {
    const { effectiveLengths } = await import("./dpo-module.js");
    expect(effectiveLengths({ maxLength: 256, maxPromptLength: null }, 512)).toEqual({ maxLength: 256, maxPromptLength: 128 });
    expect(effectiveLengths({ maxLength: 256, maxPromptLength: 200 }, 512)).toEqual({ maxLength: 256, maxPromptLength: 200 });
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(effectiveLengths({ maxLength: 1024, maxPromptLength: null }, 512)).toEqual({ maxLength: 512, maxPromptLength: 256 });
      expect(effectiveLengths({ maxLength: 1024, maxPromptLength: 600 }, 512)).toEqual({ maxLength: 512, maxPromptLength: 300 });
    } finally {
      warn.mockRestore();
    }
  });
});
