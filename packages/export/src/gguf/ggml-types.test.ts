import { describe, expect, it } from "vitest";
import { GgmlType, decodeTensor, encodeTensor, rowFits, tensorBytes } from "./ggml-types.js";

const block = (f: (j: number) => number) => Float32Array.from({ length: 32 }, (_, j) => f(j));

describe("ggml encoders", () => {
  it("q8_0: d = max|x| / 127 as f16, qs = round half away from zero (ggml quantize_row_q8_0_ref)", () => {
    const x = block((j) => (j - 16) / 4); // -4 .. 3.75
    const bytes = encodeTensor(GgmlType.Q8_0, x, "t");
    expect(bytes.length).toBe(34);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const d = Math.fround(4 / 127);
    // d's f16 bits: 4/127 = 0.0314961 -> f16 0x2808 (0.031494140625)
    expect(view.getUint16(0, true)).toBe(0x2808);
    const id = Math.fround(1 / d);
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[j]! * id);
      expect(view.getInt8(2 + j)).toBe(Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
    }
    expect(view.getInt8(2)).toBe(-127);
    // half-way cases round away from zero: 0.5 * d -> 1, -0.5 * d -> -1 (Math.round would give 0 for -0.5)
    const half = encodeTensor(GgmlType.Q8_0, block((j) => (j === 0 ? 127 : j === 1 ? -0.5 : j === 2 ? 0.5 : 0)), "h");
    expect([new Int8Array(half.buffer)[3], new Int8Array(half.buffer)[4]]).toEqual([-1, 1]);
    const back = decodeTensor(GgmlType.Q8_0, bytes, 32);
    for (let j = 0; j < 32; j++) expect(Math.abs(back[j]! - x[j]!)).toBeLessThanOrEqual(d / 2 + 1e-3);
  });

  it("q4_0: d = (value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5)), low nibble j, high nibble j+16", () => {
    const x = block((j) => j - 16); // largest magnitude -16 -> d = 2
    const bytes = encodeTensor(GgmlType.Q4_0, x, "t");
    expect(bytes.length).toBe(18);
    expect(new DataView(bytes.buffer).getUint16(0, true)).toBe(0x4000); // f16 2.0
    const q = (v: number) => Math.min(15, Math.trunc(v / 2 + 8.5));
    for (let j = 0; j < 16; j++) expect(bytes[2 + j]).toBe(q(x[j]!) | (q(x[j + 16]!) << 4));
    expect(bytes[2]! & 0x0f).toBe(0); // -16 -> 0
    expect(bytes[17]! >> 4).toBe(15); // 15 -> trunc(16) = 16 -> clamped to 15
    const back = decodeTensor(GgmlType.Q4_0, bytes, 32);
    expect(back[0]).toBe(-16);
    expect(back[31]).toBe(14);
  });

  it("an all-zero block quantizes to zeros with d = 0", () => {
    for (const t of [GgmlType.Q8_0, GgmlType.Q4_0]) {
      const b = encodeTensor(t, new Float32Array(32), "z");
      expect([...decodeTensor(t, b, 32)].every((v) => v === 0)).toBe(true);
    }
  });

  it("f16 and bf16 round to nearest even; f32 is the bytes as they are", () => {
    const x = Float32Array.from([1, -2.5, 65504, 1 / 3, 1e-8]);
    expect([...decodeTensor(GgmlType.F16, encodeTensor(GgmlType.F16, x, "h"), 5)]).toEqual([1, -2.5, 65504, 0.333251953125, 0]);
    expect(decodeTensor(GgmlType.BF16, encodeTensor(GgmlType.BF16, x, "b"), 5)[3]).toBe(0.333984375);
    expect([...decodeTensor(GgmlType.F32, encodeTensor(GgmlType.F32, x, "f"), 5)]).toEqual([...x]);
  });

  it("refuses non-finite values and float16 overflow, naming the tensor", () => {
    expect(() => encodeTensor(GgmlType.F32, Float32Array.from([0, NaN]), "blk.0.attn_q.weight")).toThrow(/'blk.0.attn_q.weight' has a non-finite value \(NaN\) at index 1/);
    expect(() => encodeTensor(GgmlType.F16, Float32Array.from([70000]), "w")).toThrow(/'w' has a value \(70000\) beyond float16's range.*--outtype bf16 or f32/);
  });

  it("a block scale beyond float16's range is an error naming the tensor, not an Inf scale", () => {
    expect(() => encodeTensor(GgmlType.Q4_0, block((j) => (j === 0 ? 1e6 : 0)), "w")).toThrow(/tensor 'w': a block scale \(125000\) is beyond float16's range/);
    expect(() => encodeTensor(GgmlType.Q8_0, block((j) => (j === 0 ? 1e7 : 0)), "w")).toThrow(/tensor 'w': a block scale/);
    expect(() => encodeTensor(GgmlType.Q8_0, block((j) => (j === 0 ? 1e6 : 0)), "w")).not.toThrow();
  });

  it("block types need rows of a multiple of 32", () => {
    expect(rowFits(GgmlType.Q8_0, 64)).toBe(true);
    expect(rowFits(GgmlType.Q8_0, 172)).toBe(false);
    expect(rowFits(GgmlType.F16, 172)).toBe(true);
    expect(tensorBytes(GgmlType.Q8_0, [64, 3])).toBe(2 * 3 * 34);
    expect(tensorBytes(GgmlType.Q4_0, [32, 1])).toBe(18);
    expect(() => tensorBytes(GgmlType.Q4_0, [172, 2])).toThrow(/multiple of 32/);
  });
});
