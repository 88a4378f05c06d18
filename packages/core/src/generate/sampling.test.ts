import { describe, expect, it } from "vitest";
import { Rng } from "../util/rng.js";
import { argmax, sampleToken } from "./sampling.js";

const logits = Float32Array.from([1, 3, 2, 3, -1]);

describe("sampleToken", () => {
  it("greedy picks the first maximum", () => {
    expect(argmax(logits)).toBe(1);
    expect(() => sampleToken(Float32Array.of(NaN, NaN, NaN), 0, 3, { topP: 0.9 }, new Rng(0))).toThrow(/no finite maximum/);
    expect(sampleToken(logits, 0, 5, { temperature: 0 }, new Rng(0))).toBe(1);
  });
  it("top-k 1 is greedy", () => {
    for (let s = 0; s < 20; s++) expect(sampleToken(logits, 0, 5, { topK: 1 }, new Rng(s))).toBe(1);
  });
  it("top-p keeps the smallest set reaching the mass", () => {
    // probs ~ [0.06, 0.42, 0.16, 0.42, 0.01]: top_p 0.5 keeps {1, 3}
    const seen = new Set<number>();
    for (let s = 0; s < 200; s++) seen.add(sampleToken(logits, 0, 5, { topP: 0.5 }, new Rng(s)));
    expect([...seen].sort()).toEqual([1, 3]);
  });
  it("matches the softmax distribution at temperature 1", () => {
    const counts = new Array(5).fill(0);
    const rng = new Rng(42);
    const N = 20000;
    for (let s = 0; s < N; s++) counts[sampleToken(logits, 0, 5, {}, rng)]++;
    const z = [...logits].reduce((a, l) => a + Math.exp(l), 0);
    [...logits].forEach((l, i) => expect(Math.abs(counts[i] / N - Math.exp(l) / z)).toBeLessThan(0.015));
  });
  it("reads one row of a [B, V] buffer", () => {
    const two = Float32Array.from([0, 9, 0, 7, 0, 0]);
    expect(sampleToken(two, 3, 3, { temperature: 0 }, new Rng(0))).toBe(0);
  });
  it("rejects bad options", () => {
    expect(() => sampleToken(logits, 0, 5, { temperature: -1 }, new Rng(0))).toThrow(/temperature/);
    expect(() => sampleToken(logits, 0, 5, { topP: 0 }, new Rng(0))).toThrow(/topP/);
    expect(() => sampleToken(logits, 0, 5, { topK: 1.5 }, new Rng(0))).toThrow(/topK/);
  });
});
