/**
 * safetensors reader/writer: byte layout against the reference implementation's test vectors, round trips per
 * dtype, float16/bfloat16 conversions against known bit patterns, header validation errors, atomic writes, and the
 * shared tiny-llama fixtures.
 */
import { SHARED_DIR } from "../testing/fixtures.js";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf } from "../testing/edits.js";
import {
  bf16ToFloat32,
  f16ToFloat32,
  float32ToBf16,
  float32ToF16,
  readSafetensors,
  writeSafetensors,
  type SafetensorsTensor,
} from "./safetensors.js";

const SHARED = SHARED_DIR;
const TINY_MODEL = path.join(SHARED, "fixtures/tiny-llama/model/model.safetensors");
const EXPECTED = path.join(SHARED, "fixtures/tiny-llama/expected.safetensors");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-safetensors-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes a file with the given header (object or raw string), data bytes and optional header-length override. */
function craft(name: string, header: object | string, dataBytes: number, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const p = path.join(tmp, name);
  fs.writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return p;
}

const bits16 = (xs: number[]) => new Uint16Array(xs);

describe("float16 / bfloat16 conversions", () => {
  it("decodes float16 bit patterns", () => {
    const f = f16ToFloat32(bits16([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x7c00, 0xfc00, 0x8000, 0x7e00]));
    expect([...f.subarray(0, 10)]).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity, -0]);
    expect(Object.is(f[9], -0)).toBe(true);
    expect(f[10]).toBeNaN();
  });

  it("decodes bfloat16 bit patterns", () => {
    const f = bf16ToFloat32(bits16([0x3f80, 0xc000, 0x4049, 0x7f80, 0xff80, 0x0001, 0x7f7f, 0x8000, 0x7fc0]));
    expect([...f.subarray(0, 8)]).toEqual([1, -2, 3.140625, Infinity, -Infinity, 2 ** -133, 3.3895313892515355e38, -0]);
    expect(f[8]).toBeNaN();
  });

  it("encodes float32 to float16 with round-to-nearest-even, overflow and subnormals", () => {
    const x = new Float32Array([1, -2, 65504, 65519, 65520, 1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, 1e-10, Infinity, NaN]);
    expect([...float32ToF16(x)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000, 0x0001, 0x3c00, 0x3c02, 0x8000, 0x0000, 0x7c00, 0x7e00]);
  });

  it("encodes float32 to bfloat16 with round-to-nearest-even", () => {
    const u = new Uint32Array([0x3f800000, 0x40490fdb, 0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0x7fc00000, 0x80000000]);
    expect([...float32ToBf16(new Float32Array(u.buffer))]).toEqual([0x3f80, 0x4049, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0x8000]);
  });

  it("round-trips every non-NaN 16-bit pattern exactly", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = float32ToF16(f16ToFloat32(all));
    const b = float32ToBf16(bf16ToFloat32(all));
    for (let i = 0; i < 65536; i++) {
      const nanH = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      const nanB = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (!nanH && h[i] !== i) throw new Error(`f16 0x${i.toString(16)} -> 0x${h[i]!.toString(16)}`);
      if (!nanB && b[i] !== i) throw new Error(`bf16 0x${i.toString(16)} -> 0x${b[i]!.toString(16)}`);
    }
  });
});

describe("writeSafetensors", () => {
  it("matches the reference implementation's bytes", () => {
    const p = path.join(tmp, "ref.safetensors");
    writeSafetensors(p, { "attn.0": { dtype: "F32", shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    // From safetensors' own serialization test (header 64 bytes, already aligned).
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const want = Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)]);
    expect(fs.readFileSync(p).equals(want)).toBe(true);

    writeSafetensors(p, {}, { framework: "pt" });
    expect([...fs.readFileSync(p)]).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{"__metadata__":{"framework":"pt"}}     ')]);
  });

  it("pads the header to 8 bytes and orders tensors by dtype alignment, then name", () => {
    const p = path.join(tmp, "order.safetensors");
    writeSafetensors(p, {
      b: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
      "10": { dtype: "F32", shape: [1], data: new Float32Array([1]) },
      "9": { dtype: "F32", shape: [1], data: new Float32Array([2]) },
      a: { dtype: "I64", shape: [1], data: new BigInt64Array([7n]) },
    });
    const buf = fs.readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const f = readSafetensors(p);
    expect(f.tensorNames).toEqual(["a", "10", "9", "b"]);
    expect([...f.read("b")]).toEqual([1, 2, 3]);
    f.close();
  });

  it("round-trips every dtype and the metadata", () => {
    const p = path.join(tmp, "all.safetensors");
    const tensors: Record<string, SafetensorsTensor> = {
      f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1.5, -2, 3, 0, 1e-20, 7]) },
      f64: { dtype: "F64", shape: [2], data: new Float64Array([0.1, -1e300]) },
      f16: { dtype: "F16", shape: [3], data: float32ToF16(new Float32Array([0.5, -3, 1000])) },
      bf16: { dtype: "BF16", shape: [3], data: float32ToBf16(new Float32Array([0.5, -3, 1000])) },
      i64: { dtype: "I64", shape: [3], data: new BigInt64Array([-1n, 2n ** 62n, 0n]) },
      i32: { dtype: "I32", shape: [2], data: new Int32Array([-5, 6]) },
      u8: { dtype: "U8", shape: [2, 2], data: new Uint8Array([0, 1, 254, 255]) },
      bool: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    };
    writeSafetensors(p, tensors, { format: "pt", note: "x" });
    const f = readSafetensors(p);
    expect(f.metadata).toEqual({ format: "pt", note: "x" });
    expect(new Set(f.tensorNames)).toEqual(new Set(Object.keys(tensors)));
    for (const [name, t] of Object.entries(tensors)) {
      expect(f.info(name).dtype).toBe(t.dtype);
      expect(f.info(name).shape).toEqual(t.shape);
      expect(f.read(name)).toEqual(t.data);
    }
    expect([...f.readFloat32("f64")]).toEqual([Math.fround(0.1), -Infinity]);
    expect([...f.readFloat32("f16")]).toEqual([0.5, -3, 1000]);
    expect([...f.readFloat32("bf16")]).toEqual([0.5, -3, 1000]);
    expect(f.readFloat32("scalar")).toEqual(new Float32Array([42]));
    expect(f.readInt64("i64")).toEqual(tensors["i64"]!.data);
    expect(f.readFloat32("empty").length).toBe(0);
    f.close();
  });

  it("reads into a caller's view at an offset, converting large BF16 tensors in chunks", () => {
    const p = path.join(tmp, "big.safetensors");
    const n = 9_000_001; // > one 16 MiB staging chunk of BF16
    const src = new Float32Array(n);
    for (let i = 0; i < n; i++) src[i] = (i % 2 ? -i : i) / 3;
    const bits = float32ToBf16(src);
    const want = bf16ToFloat32(bits);
    writeSafetensors(p, { w: { dtype: "BF16", shape: [n], data: bits }, v: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) } });
    const f = readSafetensors(p);
    const backing = new Float32Array(n + 10);
    f.readFloat32Into("w", backing.subarray(5, 5 + n));
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (backing[5 + i] !== want[i] || Math.abs(want[i]! - src[i]!) > Math.abs(src[i]!) / 128) mismatches++;
    expect(mismatches).toBe(0);
    expect(backing[4]).toBe(0);
    expect(backing[5 + n]).toBe(0);
    f.readFloat32Into("v", backing.subarray(1, 4));
    expect([...backing.subarray(0, 5)]).toEqual([0, 1, 2, 3, 0]);
    f.close();
  });

  it("writes atomically: no temp file left, existing files replaced, temp removed on failure", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "atomic-"));
    const p = path.join(dir, "x.safetensors");
    writeSafetensors(p, { a: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
    writeSafetensors(p, { a: { dtype: "F32", shape: [1], data: new Float32Array([2]) } });
    expect(fs.readdirSync(dir)).toEqual(["x.safetensors"]);
    const f = readSafetensors(p);
    expect(f.readFloat32("a")[0]).toBe(2);
    f.close();

    const asDir = path.join(dir, "is-a-dir");
    fs.mkdirSync(path.join(asDir, "child"), { recursive: true });
    expect(() => writeSafetensors(asDir, { a: { dtype: "F32", shape: [1], data: new Float32Array([1]) } })).toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(["is-a-dir", "x.safetensors"]);
  });

  it("rejects bad tensors, naming file and tensor", () => {
    const p = path.join(tmp, "bad-write.safetensors");
    let msg = errorOf(() => writeSafetensors(p, { w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }));
    expect(msg).toContain(p);
    expect(msg).toMatch(/'w'.*12 bytes.*needs 16/);
    msg = errorOf(() => writeSafetensors(p, { h: { dtype: "BF16", shape: [2], data: new Float32Array(2) } }));
    expect(msg).toMatch(/'h'.*Uint16Array.*float32ToBf16/);
    expect(errorOf(() => writeSafetensors(p, { __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } }))).toMatch(/reserved/);
    expect(fs.existsSync(p)).toBe(false);
  });
});

describe("readSafetensors validation", () => {
  const t = (dtype: string, shape: number[], offs: number[]) => ({ dtype, shape, data_offsets: offs });
  const cases: [string, () => string, RegExp][] = [
    ["overlapping offsets", () => craft("overlap.st", { a: t("F32", [4], [0, 16]), b: t("F32", [4], [8, 24]) }, 24), /tensors 'a' \[0, 16\] and 'b' \[8, 24\] overlap/],
    ["offsets past the end", () => craft("past.st", { a: t("F32", [4], [0, 16]) }, 8), /tensor 'a': data_offsets \[0, 16\] run past the end of the data section \(8 bytes/],
    ["an unknown dtype", () => craft("dtype.st", { a: t("F12", [1], [0, 4]) }, 4), /tensor 'a': unknown dtype "F12"/],
    ["a size mismatch", () => craft("size.st", { a: t("F32", [3], [0, 16]) }, 16), /tensor 'a': data_offsets \[0, 16\] hold 16 bytes but F32 shape \[3\] needs 12/],
    ["end before begin", () => craft("rev.st", { a: t("U8", [0], [4, 0]) }, 4), /tensor 'a': .*end before begin/],
    ["a bad shape", () => craft("shape.st", { a: t("F32", [-1], [0, 4]) }, 4), /tensor 'a': shape \[-1\]/],
    ["a truncated header", () => craft("trunc.st", '{"a":{"dtype":"F32"', 0, 100n), /truncated: header length 100 but the file has only 19 bytes/],
    ["a file under 8 bytes", () => { const p = path.join(tmp, "tiny.st"); fs.writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /truncated: 3 bytes/],
    ["a huge header length", () => craft("huge.st", "{}", 0, 1n << 40n), /header length 1099511627776 exceeds/],
    ["invalid JSON", () => craft("json.st", "{not json}", 0), /header is not valid JSON/],
    ["a non-object header", () => craft("arr.st", "[1, 2]", 0), /header is not a JSON object/],
    ["non-string metadata", () => craft("meta.st", { __metadata__: { step: 3 } }, 0), /__metadata__ value 'step' is not a string/],
  ];
  for (const [what, make, re] of cases)
    it(`rejects ${what}, naming the file`, () => {
      const p = make();
      const msg = errorOf(() => readSafetensors(p));
      expect(msg).toContain(p);
      expect(msg).toMatch(re);
    });

  it("accepts empty tensors sharing an offset and tolerates gaps", () => {
    const p = craft("gaps.st", { e: t("F32", [0], [4, 4]), a: t("F32", [1], [0, 4]), b: t("U8", [2], [8, 10]) }, 12);
    const f = readSafetensors(p);
    expect(f.tensorNames).toEqual(["a", "e", "b"]);
    expect(f.read("e").length).toBe(0);
    f.close();
  });

  it("names file and tensor for bad reads", () => {
    const p = path.join(tmp, "reads.safetensors");
    writeSafetensors(p, { ids: { dtype: "I64", shape: [2], data: new BigInt64Array(2) }, w: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) } });
    const f = readSafetensors(p);
    expect(errorOf(() => f.readFloat32("ids"))).toMatch(new RegExp(`${p}.*'ids' is I64; readFloat32 needs`));
    expect(errorOf(() => f.readFloat32Into("w", new Float32Array(3)))).toMatch(/'w' has 4 elements \(shape \[2, 2\]\), output has 3/);
    expect(errorOf(() => f.readInt64("w"))).toMatch(/'w' is F32, not I64/);
    expect(errorOf(() => f.info("nope"))).toMatch(/no tensor 'nope'/);
    f.close();
    expect(errorOf(() => f.readRaw("w"))).toMatch(/closed/);
  });
});

describe("shared fixtures", () => {
  it("reads the tiny-llama model", () => {
    const f = readSafetensors(TINY_MODEL);
    expect(f.tensorNames.length).toBe(20);
    expect(f.metadata).toEqual({ format: "pt" });
    expect(f.info("model.embed_tokens.weight")).toMatchObject({ dtype: "F32", shape: [97, 48], numel: 4656 });
    expect(f.info("model.layers.1.self_attn.k_proj.weight").shape).toEqual([16, 48]);
    expect(f.has("lm_head.weight")).toBe(false);
    // Independent check of offsets: the last tensor's bytes are the file's last bytes.
    const buf = fs.readFileSync(TINY_MODEL);
    const norm = f.readFloat32("model.norm.weight");
    expect(Buffer.from(norm.buffer).equals(buf.subarray(buf.length - 48 * 4))).toBe(true);
    f.close();
  });

  it("rewrites the tiny-llama model with an identical data section", () => {
    const f = readSafetensors(TINY_MODEL);
    const out = path.join(tmp, "rewrite.safetensors");
    writeSafetensors(out, Object.fromEntries(f.tensorNames.map((n) => [n, { dtype: f.info(n).dtype, shape: f.info(n).shape, data: f.read(n) }])), { format: "pt" });
    const dataOf = (p: string) => {
      const b = fs.readFileSync(p);
      return b.subarray(8 + Number(b.readBigUInt64LE(0)));
    };
    expect(dataOf(out).equals(dataOf(TINY_MODEL))).toBe(true);
    f.close();
  });

  it("reads expected.safetensors", () => {
    const f = readSafetensors(EXPECTED);
    expect(f.tensorNames.length).toBe(140);
    expect(f.info("after_adamw.model.embed_tokens.weight").shape).toEqual([97, 48]);
    expect(f.readFloat32("after_adamw.model.norm.weight").every(Number.isFinite)).toBe(true);
    f.close();
  });
});
