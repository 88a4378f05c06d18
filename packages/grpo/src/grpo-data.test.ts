/** GRPO prompt formats (GSM8K, the course's {query, answer}, conversational) and their tokenization. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import * as F from "@ortrl/core";
import { SHARED_DIR, STORIES_DIR } from "@ortrl/core/testing";
import { buildGrpoDataset, detectPrompt, readPromptRecords } from "./grpo-data.js";

const at = (record: Record<string, unknown>) => detectPrompt("p.jsonl", { line: 2, record });

describe("prompt formats", () => {
  it("reads GSM8K: question is the prompt, answer a column", () => {
    const recs = readPromptRecords(`${SHARED_DIR}data/gsm8k/test.jsonl`);
    expect(recs).toHaveLength(1319);
    expect(recs[0]!.format).toBe("question");
    expect(recs[0]!.columns.answer).toMatch(/#### \d+$/);
  });
  it("detects {prompt}, {query, answer} and conversational prompts; other fields are columns", () => {
    expect(at({ prompt: "Hi", level: 3 })).toMatchObject({ format: "prompt", prompt: "Hi", columns: { level: 3 } });
    expect(at({ query: "2+2?", answer: "4" })).toMatchObject({ format: "query", prompt: "2+2?", columns: { answer: "4" } });
    expect(at({ prompt: [{ role: "user", content: "Hi" }], solution: "x" })).toMatchObject({ format: "conversational", columns: { solution: "x" } });
  });
  it("names the file, line and field of a bad record", () => {
    expect(() => at({ text: "x" })).toThrow(/^p\.jsonl:2: record fits no prompt format \(fields seen: text\)/);
    expect(() => at({ prompt: 3 })).toThrow(/p\.jsonl:2: record: field 'prompt' must be a string or a message list, got number/);
  });
  it("skips records with an empty prompt in one counted warning; all empty is an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-grpo-data-"));
    const file = join(dir, "p.jsonl");
    writeFileSync(file, [{ query: " ", answer: "1" }, { query: "2+2?", answer: "4" }].map((r) => JSON.stringify(r)).join("\n") + "\n");
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(readPromptRecords(file).map((r) => r.prompt)).toEqual(["2+2?"]);
      expect(String(warn.mock.calls[0]![0])).toBe(`${file}: skipped 1 of 2 records with an empty 'query' (line 1)`);
    } finally {
      warn.mockRestore();
    }
    const all = join(dir, "all.jsonl");
    writeFileSync(all, JSON.stringify({ prompt: "" }) + "\n");
    expect(() => readPromptRecords(all)).toThrow(/all\.jsonl: no record left: the only record has an empty 'prompt' \(line 1\)/);
  });
});

describe("tokenization", () => {
  it("BOS + prompt, truncated from the left keeping BOS (counted); conversational needs a template", async () => {
    const tok = await F.Tokenizer.fromDir(STORIES_DIR);
    const recs = [at({ prompt: "Once upon a time there was a little girl named Lily." }), at({ prompt: "Hi" })];
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const ds = buildGrpoDataset(tok, recs, { chatTemplate: null, maxPromptLength: 5 });
      expect(ds.examples[0]!.promptIds).toHaveLength(5);
      expect(ds.examples[0]!.promptIds[0]).toBe(tok.bosTokenId);
      expect(ds.stats.truncated).toBe(1);
      expect(warn.mock.calls.some(([m]) => /truncated 1 of 2 training prompts to 5 tokens \(kept their end\)/.test(String(m)))).toBe(true);
    } finally {
      warn.mockRestore();
    }
    const conv = [at({ prompt: [{ role: "user", content: "Hi" }] })];
    expect(() => buildGrpoDataset(tok, conv, { chatTemplate: null, maxPromptLength: null })).toThrow(/p\.jsonl:2: conversational prompt but the tokenizer has no chat_template/);
    const ds = buildGrpoDataset(tok, conv, { chatTemplate: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:", maxPromptLength: null });
    expect(ds.examples[0]!.conversational).toBe(true);
    expect(tok.decode(ds.examples[0]!.promptIds, { skipSpecialTokens: true })).toBe("user: Hi\nassistant:");
  });
});
