/** Dataset building: hold-out, skipped records, all-masked datasets as errors, chat template files. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ByteTokenizer, countLabelTokens } from "@ortrl/core";
import { buildSftDataset, holdOutRecords, loadChatTemplate, readSftRecords } from "./sft-data.js";

const tmp = mkdtempSync(join(tmpdir(), "ortrl-sft-data-"));
const byte = new ByteTokenizer();
const opts = { completionOnlyLoss: null, assistantOnlyLoss: false, chatTemplate: null, maxLength: 16, packing: false };
const write = (name: string, records: unknown[]) => {
  const path = join(tmp, name);
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return path;
};

describe("holdOutRecords", () => {
  it("holds out the last records", () => {
    expect(holdOutRecords([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.2)).toEqual({ train: [1, 2, 3, 4, 5, 6, 7, 8], held: [9, 10] });
    expect(holdOutRecords([1, 2, 3], 0.01)).toEqual({ train: [1, 2], held: [3] });
    expect(holdOutRecords([1, 2], 0)).toEqual({ train: [1, 2], held: [] });
    expect(() => holdOutRecords([1], 0.5)).toThrow(/too few/);
  });
});

describe("buildSftDataset", () => {
  it("mixes formats per record, truncates and counts", () => {
    const path = write("mixed.jsonl", [
      { text: "plain text" },
      { prompt: "Q?", completion: "A." },
      { instruction: "Say hi.", output: "hi" },
      { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }] },
    ]);
    const ds = buildSftDataset(byte, readSftRecords(path), { ...opts, maxLength: 1000 });
    expect(ds.stats).toMatchObject({ records: 4, rows: 4, skipped: 0, truncated: 0, formats: { language_modeling: 1, prompt_completion: 1, alpaca: 1, conversational: 1 } });
    expect(ds.stats.labelTokens).toBe(ds.examples.reduce((n, e) => n + countLabelTokens(e), 0));
  });
  it("skips records whose scored tokens were all truncated away, and counts them", () => {
    const path = write("long-prompt.jsonl", [{ prompt: "x".repeat(40), completion: "y" }, { prompt: "Q", completion: "A" }]);
    const ds = buildSftDataset(byte, readSftRecords(path), opts);
    expect(ds.stats).toMatchObject({ records: 2, truncated: 1, skipped: 1, rows: 1 });
  });
  it("a dataset with no scored token is an error naming the file", () => {
    const path = write("all-masked.jsonl", [{ prompt: "x".repeat(40), completion: "y" }]);
    expect(() => buildSftDataset(byte, readSftRecords(path), opts)).toThrow(/all-masked\.jsonl: no training record has a token to train on .*1 of 1 records fully masked/);
    const chats = write("no-assistant.jsonl", [{ messages: [{ role: "user", content: "hi" }] }]);
    expect(() => buildSftDataset(byte, readSftRecords(chats), { ...opts, assistantOnlyLoss: true }, "evaluation")).toThrow(/no-assistant\.jsonl: no evaluation record/);
  });
  it("a record that cannot be tokenized names the file and line", () => {
    const path = write("mixed-assistant.jsonl", [{ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }] }, { text: "plain" }]);
    expect(() => buildSftDataset(byte, readSftRecords(path), { ...opts, assistantOnlyLoss: true })).toThrow(/mixed-assistant\.jsonl:2: assistantOnlyLoss needs conversational records/);
  });
});

describe("loadChatTemplate", () => {
  it("takes inline Jinja, reads a .jinja path, and names a missing file", () => {
    expect(loadChatTemplate(null)).toBeNull();
    expect(loadChatTemplate("{{ messages[0]['content'] }}")).toBe("{{ messages[0]['content'] }}");
    const path = join(tmp, "t.jinja");
    writeFileSync(path, "{% for m in messages %}{{ m['content'] }}{% endfor %}");
    expect(loadChatTemplate(path)).toContain("{% for m in messages %}");
    expect(() => loadChatTemplate(join(tmp, "missing.jinja"))).toThrow(/missing\.jinja: file not found/);
  });
});
