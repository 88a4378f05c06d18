/**
 * The GGUF v3 container, written streaming: header, metadata key/values, tensor infos, then each tensor's data,
 * every tensor starting at a multiple of the alignment (32 bytes, `general.alignment`'s default).
 *
 * Layout (ggml's docs/gguf.md; all integers little-endian): magic "GGUF", u32 version = 3, u64 tensor count,
 * u64 metadata count; each metadata entry is a string key, a u32 value type and the value; each tensor info is
 * a string name, u32 n_dims, u64 dims (innermost first: a PyTorch [rows, cols] weight is written [cols, rows]),
 * u32 ggml type and u64 offset into the data section. Strings are a u64 byte length and UTF-8 bytes, arrays a
 * u32 element type, a u64 count and the elements.
 */
import * as fs from "node:fs";
import { writeFully } from "@ortrl/core";
import { type GgmlType, ggmlTypeName, tensorBytes } from "./ggml-types.js";

/** GGUF metadata value types (gguf.md `gguf_metadata_value_type`). */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
  UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** A metadata value: a scalar of one type, or an array of one element type. */
export type GgufValue =
  | { type: "u32" | "i32" | "f32" | "u64"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "f32[]"; value: ArrayLike<number> }
  | { type: "i32[]"; value: ArrayLike<number> };

/** Helpers to write metadata values without spelling the type twice. */
export const gv = {
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  strs: (value: readonly string[]): GgufValue => ({ type: "string[]", value }),
  f32s: (value: ArrayLike<number>): GgufValue => ({ type: "f32[]", value }),
  i32s: (value: ArrayLike<number>): GgufValue => ({ type: "i32[]", value }),
};

/** One tensor to be written: its GGUF name, dims innermost first, and ggml type. */
export interface GgufTensorInfo {
  name: string;
  /** ne[0] (row length, contiguous) first. */
  dims: readonly number[];
  type: GgmlType;
}

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;
const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

/** Grows a byte buffer for the header; numbers little-endian. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  u64(v: number): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  str(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  pad(align: number): void { const n = (align - (this.length % align)) % align; this.reserve(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  result(): Uint8Array { return this.buf.subarray(0, this.length); }
}

function checkU32(key: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`GGUF metadata '${key}': ${v} is not a u32`);
}

function writeValue(s: ByteSink, key: string, v: GgufValue): void {
  switch (v.type) {
    case "u32": checkU32(key, v.value); s.u32(GgufValueType.UINT32); s.u32(v.value); return;
    case "u64": s.u32(GgufValueType.UINT64); s.u64(v.value); return;
    case "i32": s.u32(GgufValueType.INT32); s.i32(v.value); return;
    case "f32": s.u32(GgufValueType.FLOAT32); s.f32(v.value); return;
    case "bool": s.u32(GgufValueType.BOOL); s.u8(v.value ? 1 : 0); return;
    case "string": s.u32(GgufValueType.STRING); s.str(v.value); return;
    case "string[]": s.u32(GgufValueType.ARRAY); s.u32(GgufValueType.STRING); s.u64(v.value.length); for (const x of v.value) s.str(x); return;
    case "f32[]": s.u32(GgufValueType.ARRAY); s.u32(GgufValueType.FLOAT32); s.u64(v.value.length); for (let i = 0; i < v.value.length; i++) s.f32(v.value[i]!); return;
    case "i32[]": s.u32(GgufValueType.ARRAY); s.u32(GgufValueType.INT32); s.u64(v.value.length); for (let i = 0; i < v.value.length; i++) s.i32(v.value[i]!); return;
  }
}

/**
 * The header of a GGUF v3 file (everything before the data section, padded to the alignment) and each tensor's
 * offset in the data section.
 * @throws Error for duplicate tensor or metadata names, empty dims, or a metadata value out of range.
 */
export function ggufHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInfo[]): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const s = new ByteSink();
  s.u32(MAGIC);
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(metadata.size);
  for (const [key, v] of metadata) {
    s.str(key);
    writeValue(s, key, v);
  }
  const seen = new Set<string>();
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`GGUF: tensor '${t.name}' written twice`);
    seen.add(t.name);
    if (t.dims.length === 0 || t.dims.length > 4) throw new Error(`GGUF: tensor '${t.name}' has ${t.dims.length} dims (1 to 4 allowed)`);
    s.str(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offsets.push(offset);
    offset += tensorBytes(t.type, t.dims);
    offset = Math.ceil(offset / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  s.pad(GGUF_ALIGNMENT);
  return { header: s.result(), offsets, dataBytes: offset };
}

/**
 * Writes a GGUF file tensor by tensor: `produce(i)` returns the encoded bytes of tensor i (exactly
 * tensorBytes(type, dims) of them) and is called once per tensor, in order, so only one tensor's data is in
 * memory at a time. The file is written to `path.tmp-PID` and renamed over `path` only when complete; on any
 * error (or when `signal` aborts between tensors) the temporary file is removed and `path` is untouched.
 * @returns bytes written.
 * @throws Error naming the tensor when produce() returns the wrong byte count; the abort reason when aborted.
 */
export async function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInfo[],
  produce: (index: number) => Uint8Array | Promise<Uint8Array>,
  signal?: AbortSignal,
): Promise<number> {
  const { header, dataBytes } = ggufHeader(metadata, tensors);
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | null = fs.openSync(tmp, "w");
  try {
    writeFully(fd, header);
    let written = 0;
    const zeros = new Uint8Array(GGUF_ALIGNMENT);
    for (let i = 0; i < tensors.length; i++) {
      signal?.throwIfAborted();
      const t = tensors[i]!;
      const bytes = await produce(i);
      const want = tensorBytes(t.type, t.dims);
      if (bytes.byteLength !== want) throw new Error(`GGUF: tensor '${t.name}' (${ggmlTypeName(t.type)} [${t.dims.join(", ")}]) encoded to ${bytes.byteLength} bytes, expected ${want}`);
      writeFully(fd, bytes);
      written += bytes.byteLength;
      const pad = (GGUF_ALIGNMENT - (written % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
      if (pad) writeFully(fd, zeros.subarray(0, pad));
      written += pad;
      // Let signal handlers run between tensors.
      await new Promise<void>((r) => setImmediate(r));
    }
    if (written !== dataBytes) throw new Error(`GGUF: wrote ${written} data bytes, the header promised ${dataBytes}`);
    signal?.throwIfAborted();
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, path);
    return header.byteLength + written;
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
