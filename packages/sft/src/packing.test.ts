/** Best-fit-decreasing packing: placement, segments, first-label masking, and isolation of samples in the model. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { IGNORE_INDEX, collate, countLabelTokens } from "@ortrl/core";
import { packExamples } from "./packing.js";
import { buildSftDataset } from "./sft-data.js";
import { SHARED_DIR as SHARED } from "@ortrl/core/testing";

const STORIES = join(SHARED, "models/stories260K-hf");
const M = IGNORE_INDEX;
/** An example of `n` tokens whose ids encode (example, position). */
const ex = (k: number, n: number): F.TokenizedExample => {
  const ids = Array.from({ length: n }, (_, t) => 100 * k + t);
  return { inputIds: ids, labels: [...ids] };
};

describe("packExamples", () => {
  it("places longest first, each into the fullest row it fits, never splitting an example", () => {
    const examples = [ex(1, 5), ex(2, 3), ex(3, 4), ex(4, 2), ex(5, 6)];
    const rows = packExamples(examples, 8);
    // 6 -> new row; 5 -> new row; 4 -> new row; 3 -> the 5-row (room 3); 2 -> the 6-row (room 2).
    expect(rows.map((r) => r.inputIds.map((id) => Math.floor(id / 100)))).toEqual([
      [5, 5, 5, 5, 5, 5, 4, 4],
      [1, 1, 1, 1, 1, 2, 2, 2],
      [3, 3, 3, 3],
    ]);
    expect(rows.map((r) => r.segments)).toEqual([
      [1, 1, 1, 1, 1, 1, 2, 2],
      [1, 1, 1, 1, 1, 2, 2, 2],
      [1, 1, 1, 1],
    ]);
  });
  it("masks the first label of every sample, so the scored tokens are those of the unpacked examples", () => {
    const examples = [ex(1, 5), ex(2, 3), ex(3, 4), ex(4, 2), ex(5, 6)];
    examples[1]!.labels[1] = M;
    const rows = packExamples(examples, 8);
    expect(rows[1]!.labels).toEqual([M, 101, 102, 103, 104, M, M, 202]);
    expect(rows.reduce((n, r) => n + countLabelTokens(r), 0)).toBe(examples.reduce((n, e) => n + countLabelTokens(e), 0));
  });
  it("rejects an example longer than a row", () => {
    expect(() => packExamples([ex(1, 9)], 8)).toThrow(/example 0 has 9 tokens, more than the row length 8/);
  });
  it("collates to segment attention masks and positions restarting per sample", () => {
    const b = collate(packExamples([ex(1, 3), ex(2, 2)], 8), 0);
    expect(Array.from(b.attentionMask, Number)).toEqual([1, 1, 1, 2, 2]);
    expect(Array.from(b.positionIds, Number)).toEqual([0, 1, 2, 0, 1]);
  });
  it("packed rows give the model the same losses as the unpacked examples (samples do not see each other)", async () => {
    const model = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
    const tok = model.tokenizer!;
    const texts = ["Once upon a time there was a cat.", "Lily liked to play.", "The dog ran to the park and saw a ball.", "Tom was sad."];
    const records = texts.map((text, i) => ({ file: "t", line: i + 1, record: { format: "language_modeling" as const, text } }));
    const opts = { completionOnlyLoss: null, assistantOnlyLoss: false, chatTemplate: null, maxLength: 32 };
    const plain = buildSftDataset(tok, records, { ...opts, packing: false });
    const packed = buildSftDataset(tok, records, { ...opts, packing: true });
    expect(packed.examples.length).toBeLessThan(plain.examples.length);
    expect(packed.stats.labelTokens).toBe(plain.stats.labelTokens);
    const a = await model.lm.lossSum(collate(plain.examples, tok.eosTokenId!));
    const b = await model.lm.lossSum(collate(packed.examples, tok.eosTokenId!));
    expect(b.count).toBe(a.count);
    expect(Math.abs(b.lossSum - a.lossSum)).toBeLessThan(1e-4 * a.lossSum);
  });
});
