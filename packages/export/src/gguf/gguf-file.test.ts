import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GGUF_ALIGNMENT, gv, writeGguf } from "./gguf-file.js";
import { GgmlType, encodeTensor } from "./ggml-types.js";

/** A minimal GGUF reader written from gguf.md for this test (independent of the writer's code). */
function readGguf(buf: Buffer) {
  let o = 0;
  const u32 = () => { const v = buf.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { const v = Number(buf.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const n = u64(); const s = buf.toString("utf8", o, o + n); o += n; return s; };
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32();
      case 5: { const v = buf.readInt32LE(o); o += 4; return v; }
      case 6: { const v = buf.readFloatLE(o); o += 4; return v; }
      case 7: return buf[o++] === 1;
      case 8: return str();
      case 9: { const t = u32(); const n = u64(); return Array.from({ length: n }, () => value(t)); }
      case 10: return u64();
      default: throw new Error(`type ${type}`);
    }
  };
  const magic = buf.toString("latin1", 0, 4);
  o = 4;
  const version = u32();
  const nt = u64();
  const nkv = u64();
  const kv: Record<string, unknown> = {};
  for (let i = 0; i < nkv; i++) { const k = str(); kv[k] = value(u32()); }
  const tensors = Array.from({ length: nt }, () => {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, () => u64());
    return { name, dims, type: u32(), offset: u64() };
  });
  const dataStart = Math.ceil(o / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  return { magic, version, kv, tensors, dataStart };
}

describe("writeGguf", () => {
  it("writes GGUF v3: metadata, tensor infos with dims innermost first, 32-byte aligned data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-"));
    const file = join(dir, "t.gguf");
    const a = Float32Array.from({ length: 6 }, (_, i) => i + 0.5); // torch [2, 3] -> dims [3, 2]
    const b = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const meta = new Map([["general.architecture", gv.str("llama")], ["x.count", gv.u32(7)], ["x.eps", gv.f32(1e-5)], ["x.flag", gv.bool(true)], ["x.list", gv.strs(["a", "bé"])], ["x.ints", gv.i32s([1, -2])]]);
    const bytes = await writeGguf(file, meta, [{ name: "a", dims: [3, 2], type: GgmlType.F32 }, { name: "b", dims: [32, 2], type: GgmlType.Q8_0 }], (i) => encodeTensor(i === 0 ? GgmlType.F32 : GgmlType.Q8_0, i === 0 ? a : b, "x"));
    const buf = readFileSync(file);
    expect(buf.length).toBe(bytes);
    const g = readGguf(buf);
    expect(g.magic).toBe("GGUF");
    expect(g.version).toBe(3);
    expect(g.kv).toMatchObject({ "general.architecture": "llama", "x.count": 7, "x.flag": true, "x.list": ["a", "bé"], "x.ints": [1, -2] });
    expect(g.kv["x.eps"]).toBeCloseTo(1e-5, 10);
    expect(g.tensors).toEqual([{ name: "a", dims: [3, 2], type: 0, offset: 0 }, { name: "b", dims: [32, 2], type: 8, offset: 32 }]);
    expect(g.dataStart % 32).toBe(0);
    expect([...new Float32Array(buf.buffer.slice(buf.byteOffset + g.dataStart, buf.byteOffset + g.dataStart + 24))]).toEqual([...a]);
    expect(buf.length).toBe(g.dataStart + 32 + 2 * 34 + (32 - ((2 * 34) % 32)));
    expect(readdirSync(dir)).toEqual(["t.gguf"]);
  });

  it("an abort between tensors, or a wrongly sized tensor, leaves neither the target nor a temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-"));
    const file = join(dir, "t.gguf");
    const ctl = new AbortController();
    const infos = [{ name: "a", dims: [4], type: GgmlType.F32 }, { name: "b", dims: [4], type: GgmlType.F32 }] as const;
    await expect(writeGguf(file, new Map(), infos, () => {
      ctl.abort(new Error("stopped by SIGINT"));
      return encodeTensor(GgmlType.F32, new Float32Array(4), "a");
    }, ctl.signal)).rejects.toThrow(/stopped by SIGINT/);
    expect(readdirSync(dir)).toEqual([]);
    await expect(writeGguf(file, new Map(), infos, () => new Uint8Array(12))).rejects.toThrow(/tensor 'a' \(F32 \[4\]\) encoded to 12 bytes, expected 16/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses duplicate tensor names and out-of-range u32 metadata", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "gguf-")), "t.gguf");
    await expect(writeGguf(file, new Map(), [{ name: "a", dims: [1], type: GgmlType.F32 }, { name: "a", dims: [1], type: GgmlType.F32 }], () => new Uint8Array(4))).rejects.toThrow(/'a' written twice/);
    await expect(writeGguf(file, new Map([["k", gv.u32(-1)]]), [], () => new Uint8Array())).rejects.toThrow(/'k': -1 is not a u32/);
  });
});
