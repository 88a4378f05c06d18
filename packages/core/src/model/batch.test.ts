import { describe, expect, it } from "vitest";
import { padBatch, positionIdsFromMask } from "./batch.js";

describe("padBatch", () => {
  it("right-pads with labels -100 and positions per row", () => {
    const b = padBatch([[5, 6, 7], [8]], { padId: 0, labels: [[-100, 6, 7], [8]] });
    expect(b.seqLen).toBe(3);
    expect([...b.inputIds].map(Number)).toEqual([5, 6, 7, 8, 0, 0]);
    expect([...b.attentionMask].map(Number)).toEqual([1, 1, 1, 1, 0, 0]);
    expect([...b.positionIds].map(Number)).toEqual([0, 1, 2, 0, 0, 0]);
    expect([...b.labels!].map(Number)).toEqual([-100, 6, 7, 8, -100, -100]);
  });
  it("left-pads for generation", () => {
    const b = padBatch([[1, 2], [3, 4, 5]], { side: "left", padId: 9 });
    expect([...b.inputIds].map(Number)).toEqual([9, 1, 2, 3, 4, 5]);
    expect([...b.positionIds].map(Number)).toEqual([0, 0, 1, 0, 1, 2]);
  });
  it("restarts positions per packed segment", () => {
    const mask = BigInt64Array.from([1n, 1n, 1n, 2n, 2n, 0n]);
    expect([...positionIdsFromMask(mask, 1, 6)].map(Number)).toEqual([0, 1, 2, 0, 1, 0]);
  });
  it("rejects mismatched labels and overlong rows", () => {
    expect(() => padBatch([[1, 2]], { labels: [[1]] })).toThrow(/labels of row 0/);
    expect(() => padBatch([[1, 2, 3]], { length: 2 })).toThrow(/exceeds length 2/);
  });
});
