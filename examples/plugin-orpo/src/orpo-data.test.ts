/**
 * ORPO's config and data rules: bad values and bad records are errors naming the field (and the file
 * and line); empty completions are skipped with a warning; tokenization and TRL's ORPO truncation.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import * as F from "@ortrl/core";
import { ORPO_DEFAULTS, ORPO_SCHEMA, resolveOrpoConfig } from "./orpo-config.js";
import { buildOrpoDataset, readOrpoRecords, tokenizeOrpoPair, truncateOrpoPair } from "./orpo-data.js";
import { orpoLengths } from "./orpo-module.js";
import { orpoPlugin } from "./orpo-plugin.js";

const dir = mkdtempSync(join(tmpdir(), "ortrl-orpo-data-"));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const jsonl = (name: string, records: object[]) => write(name, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
const errorOf = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
};

describe("config", () => {
  it("has TRL ORPOConfig's defaults", () => {
    expect(orpoPlugin.name).toBe("orpo");
    expect(ORPO_DEFAULTS).toMatchObject({ learningRate: 1e-6, beta: 0.1, maxLength: 1024, maxPromptLength: 512, loggingSteps: 10, chatTemplate: null });
  });

  it("beta <= 0 is a ConfigError naming the field as the user wrote it", () => {
    for (const beta of [0, -0.5]) {
      const e = errorOf(() => orpoPlugin.resolve({ outputDir: "out", dataFiles: ["a.jsonl"], beta }));
      expect(e).toBeInstanceOf(F.ConfigError);
      expect((e as F.ConfigError).field).toBe("beta");
      expect(e.message).toBe(`orpo config: beta must be > 0, got ${beta}`);
    }
    // A config file's keys and command-line flags are checked as written (what the CLI does with a schema).
    expect(errorOf(() => ORPO_SCHEMA.parsePartial({ beta: 0 }, "cfg.yaml", "snake")).message).toBe("cfg.yaml: key 'beta' must be > 0, got 0");
    expect(errorOf(() => ORPO_SCHEMA.parsePartial({ beta: -1 }, "command line", "flag")).message).toBe("command line: --beta must be > 0, got -1");
    // Cross-field rules name the other field the same way.
    expect(errorOf(() => resolveOrpoConfig({ outputDir: "out", dataFiles: ["a.jsonl"], maxLength: 8, maxPromptLength: 9 }, "cfg.yaml", "snake")).message).toBe(
      "cfg.yaml: key 'max_prompt_length' must be less than key 'max_length' (8) to leave room for the completions, got 9",
    );
  });

  it("needs training data, and a prompt limit below maxLength", () => {
    expect(errorOf(() => orpoPlugin.resolve({ outputDir: "out" })).message).toMatch(/dataFiles must list at least one training file/);
    const e = errorOf(() => orpoPlugin.resolve({ outputDir: "out", dataFiles: ["a.jsonl"], maxLength: 64, maxPromptLength: 64 }));
    expect((e as F.ConfigError).field).toBe("maxPromptLength");
    expect(e.message).toMatch(/maxPromptLength must be less than maxLength \(64\)/);
  });

  it("a maxLength beyond the model's positions is capped and the prompt share kept", () => {
    expect(orpoLengths({ maxLength: 1024, maxPromptLength: 512 }, 512)).toEqual({ maxLength: 512, maxPromptLength: 256 });
    expect(orpoLengths({ maxLength: 128, maxPromptLength: 100 }, 512)).toEqual({ maxLength: 128, maxPromptLength: 100 });
  });
});

describe("records", () => {
  it("a record without 'rejected' names the file, the line and the field", () => {
    const path = jsonl("missing.jsonl", [{ prompt: "p", chosen: "a", rejected: "b" }, { prompt: "p", chosen: "a" }]);
    const e = errorOf(() => readOrpoRecords(path));
    expect(e).toBeInstanceOf(F.DataError);
    expect(e.message).toBe(`${path}:2: record has no 'rejected' field; expected {prompt, chosen, rejected}: three strings or three {role, content} message lists`);
  });

  it("names the record of a JSON array, wrong types, and records that fit no format", () => {
    const arr = write("pairs.json", JSON.stringify([{ prompt: "p", chosen: "a", rejected: "b" }, { chosen: "a", rejected: "b" }]));
    expect(errorOf(() => readOrpoRecords(arr)).message).toMatch(/pairs\.json:2: record 2 has no 'prompt' field/);
    const typed = jsonl("typed.jsonl", [{ prompt: 3, chosen: "a", rejected: "b" }]);
    expect(errorOf(() => readOrpoRecords(typed)).message).toMatch(/typed\.jsonl:1: record: field 'prompt' must be a string like the other two, got number/);
    const none = jsonl("none.jsonl", [{ text: "hello" }]);
    expect(errorOf(() => readOrpoRecords(none)).message).toMatch(/none\.jsonl:1: record fits no preference format \(fields seen: text\)/);
    const badMsg = jsonl("msgs.jsonl", [{ prompt: [{ role: "user", content: "hi" }], chosen: [{ role: "assistant" }], rejected: [{ role: "assistant", content: "no" }] }]);
    expect(errorOf(() => readOrpoRecords(badMsg)).message).toMatch(/msgs\.jsonl:1: record: chosen\[0\]\.content must be a string, got nothing/);
  });

  it("skips pairs with an empty completion (one warning), and refuses a file of only those", () => {
    const path = jsonl("empty.jsonl", [{ prompt: "p", chosen: "a", rejected: "b" }, { prompt: "p", chosen: "a", rejected: "  " }]);
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      expect(readOrpoRecords(path)).toHaveLength(1);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toBe(`${path}: skipped 1 of 2 records with an empty 'rejected' (line 2)`);
    } finally {
      warn.mockRestore();
    }
    const allEmpty = jsonl("all-empty.jsonl", [{ prompt: "p", chosen: "", rejected: "b" }]);
    expect(errorOf(() => readOrpoRecords(allEmpty)).message).toMatch(/no record left: the only record has an empty 'chosen'/);
  });
});

describe("tokenization and truncation", () => {
  const tok = new F.ByteTokenizer();
  const b = (s: string) => Array.from(new TextEncoder().encode(s), (x) => tok.encode(String.fromCharCode(x), { addSpecialTokens: false })[0]!);

  it("prompt = BOS + prompt; completions end with EOS; conversational pairs use the chat template", () => {
    const e = tokenizeOrpoPair(tok, { format: "standard", prompt: "Q", chosen: "yes", rejected: "no" }, null);
    expect(e).toEqual({ promptIds: [1, ...b("Q")], chosenIds: [...b("yes"), 2], rejectedIds: [...b("no"), 2] });
    const tpl = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
    const c = tokenizeOrpoPair(tok, { format: "conversational", prompt: [{ role: "user", content: "Q" }], chosen: [{ role: "assistant", content: "yes" }], rejected: [{ role: "assistant", content: "no" }] }, tpl);
    expect(tok.decode(c.promptIds)).toBe("<s>user: Q\nassistant: ");
    // The completion is what the full conversation renders after the rendered prompt, then EOS.
    expect(tok.decode(c.chosenIds)).toBe("yes\n</s>");
    expect(tok.decode(c.rejectedIds)).toBe("no\n</s>");
  });

  it("TRL's rule: the prompt keeps its end (and BOS), then completions keep their start", () => {
    const e = { promptIds: [1, 10, 11, 12, 13, 14], chosenIds: [20, 21, 22, 23], rejectedIds: [30, 31] };
    expect(truncateOrpoPair(e, { maxLength: 10, maxPromptLength: 4 }, 1)).toEqual({ example: e, truncated: false });
    expect(truncateOrpoPair(e, { maxLength: 8, maxPromptLength: 4 }, 1)).toEqual({ example: { ...e, promptIds: [1, 12, 13, 14] }, truncated: true });
    expect(truncateOrpoPair(e, { maxLength: 6, maxPromptLength: 3 }, 1)).toEqual({ example: { promptIds: [1, 13, 14], chosenIds: [20, 21, 22], rejectedIds: [30, 31] }, truncated: true });
  });

  it("buildOrpoDataset counts truncated pairs and names the record a template cannot render", () => {
    const path = jsonl("long.jsonl", [{ prompt: "a long prompt", chosen: "yes", rejected: "no" }]);
    const ds = buildOrpoDataset(tok, readOrpoRecords(path), { maxLength: 8, maxPromptLength: 3, chatTemplate: null });
    expect(ds.stats).toEqual({ records: 1, truncated: 1, noCompletion: 0, pairs: 1 });
    expect(ds.examples[0]!.promptIds).toEqual([1, ...b("pt")]);
    const conv = jsonl("conv.jsonl", [{ prompt: [{ role: "user", content: "Q" }], chosen: [{ role: "assistant", content: "a" }], rejected: [{ role: "assistant", content: "b" }] }]);
    const broken = "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}>>{% endif %}";
    expect(errorOf(() => buildOrpoDataset(tok, readOrpoRecords(conv), { maxLength: 64, maxPromptLength: 32, chatTemplate: broken })).message).toMatch(
      /conv\.jsonl:1: the chat template renders the prompt differently inside the full chosen conversation/,
    );
  });
});
