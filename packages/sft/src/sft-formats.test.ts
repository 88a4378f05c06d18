/** Per-record format detection, the Alpaca prompt, and errors that name the file, record and fields seen. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { DataError } from "@ortrl/core";
import { alpacaPrompt, detectRecord } from "./sft-formats.js";
import { readSftRecords } from "./sft-data.js";

const tmp = mkdtempSync(join(tmpdir(), "ortrl-sft-formats-"));
const at = (record: Record<string, unknown>, line = 1) => detectRecord("data.jsonl", { line, record });

describe("detectRecord", () => {
  it("detects every format per record", () => {
    expect(at({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }] }).format).toBe("conversational");
    expect(at({ prompt: [{ role: "user", content: "hi" }], completion: [{ role: "assistant", content: "yo" }] }).format).toBe("conversational_prompt_completion");
    expect(at({ prompt: "2+2=", completion: "4" })).toEqual({ format: "prompt_completion", prompt: "2+2=", completion: "4" });
    expect(at({ instruction: "Add.", input: "2, 2", output: "4" }).format).toBe("alpaca");
    expect(at({ text: "Once upon a time", id: 7 })).toEqual({ format: "language_modeling", text: "Once upon a time" });
    expect(detectRecord("d.jsonl", { line: 1, record: { body: "x" } }, "body")).toEqual({ format: "language_modeling", text: "x" });
  });

  it("renders Alpaca records with the standard template, with and without input", () => {
    const withInput = at({ instruction: "Add the numbers.", input: "2, 2", output: "4" });
    expect(withInput).toEqual({
      format: "alpaca",
      prompt:
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\nAdd the numbers.\n\n### Input:\n2, 2\n\n### Response:\n",
      completion: "4",
    });
    const noInput =
      "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n";
    expect(at({ instruction: "Say hi.", input: "", output: "hi" })).toEqual({ format: "alpaca", prompt: noInput, completion: "hi" });
    expect(at({ instruction: "Say hi.", output: "hi" })).toEqual({ format: "alpaca", prompt: noInput, completion: "hi" });
    expect(alpacaPrompt("Say hi.", null)).toBe(noInput);
  });

  it("names the file, line and the fields seen when no format fits", () => {
    const path = join(tmp, "bad.jsonl");
    writeFileSync(path, [JSON.stringify({ text: "ok" }), "", JSON.stringify({ question: "q", answer: "a" })].join("\n") + "\n");
    let err: unknown;
    try {
      readSftRecords(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).lineNumber).toBe(3);
    expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: record fits no SFT dataset format \\(fields seen: question, answer\\)`));
  });

  it("names the record index of a JSON array", () => {
    const path = join(tmp, "bad.json");
    writeFileSync(path, JSON.stringify([{ prompt: "a", completion: "b" }, { prompt: "only a prompt" }]));
    expect(() => readSftRecords(path)).toThrow(/bad\.json:2: record 2 fits no SFT dataset format \(fields seen: prompt\)/);
  });

  it("names the field of a malformed record", () => {
    expect(() => at({ messages: [{ role: "user", content: 3 }] }, 5)).toThrow(/data\.jsonl:5: record: messages\[0\]\.content must be a string, got number/);
    expect(() => at({ messages: [] })).toThrow(/'messages' is an empty message list/);
    expect(() => at({ prompt: "a", completion: [{ role: "assistant", content: "b" }] })).toThrow(/both be strings or both be message lists, got string and a list/);
    expect(() => at({ instruction: "a", input: 3, output: "b" })).toThrow(/field 'input' must be a string, got number/);
    expect(() => at({ text: null })).toThrow(/field 'text' must be a string, got null/);
  });

  it("skips records with an empty text, completion or output in one counted warning; all empty is an error", () => {
    const path = join(tmp, "empties.jsonl");
    const recs = [{ text: "" }, { prompt: "Q", completion: " " }, { instruction: "Say hi.", output: "" }, { text: "kept" }];
    writeFileSync(path, recs.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(readSftRecords(path).map((r) => r.line)).toEqual([4]);
      expect(String(warn.mock.calls[0]![0])).toBe(`${path}: skipped 3 of 4 records with an empty 'text' or 'completion' or 'output' (lines 1, 2, 3)`);
    } finally {
      warn.mockRestore();
    }
    const all = join(tmp, "all-empty.json");
    writeFileSync(all, JSON.stringify([{ text: " " }]));
    expect(() => readSftRecords(all)).toThrow(/all-empty\.json: no record left: the only record has an empty 'text' \(record 1\)/);
  });

  it("rejects an empty file and malformed JSON naming the file", () => {
    const empty = join(tmp, "empty.jsonl");
    writeFileSync(empty, "\n\n");
    expect(() => readSftRecords(empty)).toThrow(/empty\.jsonl: no records/);
    const broken = join(tmp, "broken.jsonl");
    writeFileSync(broken, '{"text": "a"}\n{"text": \n');
    expect(() => readSftRecords(broken)).toThrow(/broken\.jsonl:2: invalid JSON/);
  });
});
