/**
 * safetensors files: a validating, lazy reader and an atomic writer.
 *
 * Format: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`), then the data
 * section; offsets are byte offsets into the data section, tensors are row-major and little-endian.
 *
 * Reads are positioned (`fs.readSync` at an offset, one tensor at a time), never whole-file, so files over
 * 2 GiB (which `fs.readFileSync` refuses) work and only the tensors asked for are read. Little-endian hosts only.
 */
import * as fs from "node:fs";
import { writeFully } from "./atomic.js";
import { withFsContext } from "./fs-errors.js";

/** Element types defined by the safetensors format, in the reference implementation's order (increasing alignment). */
export const SAFETENSORS_DTYPES = [
  "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
] as const;

export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_BYTES: Record<SafetensorsDType, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** Typed arrays returned by {@link SafetensorsFile.read}; F16/BF16 are raw Uint16 bits, BOOL/U8/F8 are Uint8. */
export type SafetensorsTypedArray =
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** One tensor's header entry. */
export interface SafetensorsTensorInfo {
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** Element count (product of shape; 1 for a scalar). */
  numel: number;
  /** Byte length of the data. */
  byteLength: number;
  /** Absolute byte offset of the data in the file. */
  fileOffset: number;
}

/** A read-only set of named tensors (one safetensors file, or a sharded model directory). */
export interface TensorSource {
  /** Tensor names. */
  readonly tensorNames: string[];
  has(name: string): boolean;
  /** @throws Error naming the source when the tensor is absent. */
  info(name: string): SafetensorsTensorInfo;
  /** The tensor's raw little-endian bytes. */
  readRaw(name: string): Uint8Array;
  /** The tensor converted to float32 (from F32, F16, BF16 or F64). @throws Error for other dtypes. */
  readFloat32(name: string): Float32Array;
  /** Like readFloat32, into `out` (length must equal numel), without an intermediate full-size copy. */
  readFloat32Into(name: string, out: Float32Array): void;
  /** Releases file descriptors; later reads throw. */
  close(): void;
}

/** Largest header accepted (the reference implementation's limit). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/** Largest single read/write call (Linux transfers at most ~2 GiB per call). */
const IO_CHUNK_BYTES = 1 << 30;
/** Staging size for converting F16/BF16/F64 to float32 (bounds temporary memory on large tensors). */
const CONVERT_CHUNK_BYTES = 1 << 24;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error("safetensors: only little-endian hosts are supported");
}

function isDType(s: unknown): s is SafetensorsDType {
  return typeof s === "string" && (SAFETENSORS_DTYPES as readonly string[]).includes(s);
}

/** Reads exactly `target.byteLength` bytes at `position`. @throws Error on a short file. */
function readFully(fd: number, target: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const len = Math.min(IO_CHUNK_BYTES, target.byteLength - done);
    const n = fs.readSync(fd, target, done, len, position + done);
    if (n === 0) throw new Error(`${what}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}


// ---------------------------------------------------------------------------------------------------------------
// float16 / bfloat16 <-> float32

let f16Table: Float32Array | undefined;

/** float32 value of every float16 bit pattern (256 KiB, built on first use). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  const f = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) f[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero / subnormal: exact in float32
    else if (exp === 31) bits[h] = sign | 0x7f800000 | (mant << 13); // inf / nan (payload kept)
    else bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
  }
  f16Table = f;
  return f;
}

/** Converts float16 bit patterns to float32 into `out` (same length). */
export function f16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** Converts bfloat16 bit patterns to float32 (exact: the bits become the high half of a float32). */
export function bf16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i]! << 16;
  return out;
}

/** Rounds float32 values to bfloat16 bits (round to nearest even; NaN stays a quiet NaN). */
export function float32ToBf16(src: Float32Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Rounds float32 values to float16 bits (round to nearest even, overflow to ±inf, subnormals kept). */
export function float32ToF16(src: Float32Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf / nan
    else if (exp > 142) h = 0x7c00; // >= 2^16: overflow
    else if (exp >= 113) {
      // normal range: rebias, round the 13 dropped bits (a carry into the exponent is correct, up to inf)
      const v = ((exp - 112) << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      h = v + (rest > 0x1000 || (rest === 0x1000 && (v & 1)) ? 1 : 0);
    } else if (exp >= 102) {
      // subnormal half: shift the full significand
      const m = mant | 0x800000;
      const shift = 126 - exp;
      const v = m >>> shift;
      const rest = m & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      h = v + (rest > halfway || (rest === halfway && (v & 1)) ? 1 : 0);
    } else h = 0; // underflow to signed zero
    out[i] = sign | h;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

/** An open safetensors file: header parsed and validated, tensor data read on demand. */
export class SafetensorsFile implements TensorSource {
  private fd: number | null;
  private readonly tensors: Map<string, SafetensorsTensorInfo>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;

  private constructor(readonly path: string, fd: number, tensors: Map<string, SafetensorsTensorInfo>, metadata: Record<string, string>) {
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /**
   * Opens `path` and validates its header: length within the file and at most 100 MB, JSON object, known dtypes,
   * non-negative integer shapes, `data_offsets` inside the data section, byte size = numel * dtype size, no two
   * tensors overlapping, `__metadata__` a string map. Gaps between tensors are tolerated.
   * @throws Error naming the file (and the tensor) and what is wrong; the file is closed on error.
   */
  static open(path: string): SafetensorsFile {
    assertLittleEndian();
    const fd = fs.openSync(path, "r");
    try {
      const { tensors, metadata } = parseHeader(fd, path);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in data order (by offset). */
  get tensorNames(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`safetensors ${this.path}: no tensor '${name}'`);
    return t;
  }

  readRaw(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.byteLength);
    this.readBytes(name, t, out, 0);
    return out;
  }

  /**
   * The tensor as the typed array matching its dtype (F16/BF16 as raw Uint16 bits, BOOL/U8/F8 as Uint8Array),
   * `numel` elements, freshly allocated and aligned.
   */
  read(name: string): SafetensorsTypedArray {
    const t = this.info(name);
    const bytes = this.readRaw(name);
    const b = bytes.buffer;
    switch (t.dtype) {
      case "F32": return new Float32Array(b);
      case "F64": return new Float64Array(b);
      case "I64": return new BigInt64Array(b);
      case "U64": return new BigUint64Array(b);
      case "I32": return new Int32Array(b);
      case "U32": return new Uint32Array(b);
      case "I16": return new Int16Array(b);
      case "U16": case "F16": case "BF16": return new Uint16Array(b);
      case "I8": return new Int8Array(b);
      default: return bytes;
    }
  }

  /** An I64 tensor. @throws Error naming the file and tensor for other dtypes. */
  readInt64(name: string): BigInt64Array {
    const t = this.info(name);
    if (t.dtype !== "I64") throw new Error(`safetensors ${this.path}: tensor '${name}' is ${t.dtype}, not I64`);
    return this.read(name) as BigInt64Array;
  }

  readFloat32(name: string): Float32Array {
    const out = new Float32Array(this.info(name).numel);
    this.readFloat32Into(name, out);
    return out;
  }

  /**
   * Reads the tensor into `out` as float32. F32 is read straight into `out`'s memory; F16, BF16 and F64 are
   * converted through a 16 MiB staging buffer.
   * @throws Error naming the file and tensor when `out.length !== numel` or the dtype is not a float type.
   */
  readFloat32Into(name: string, out: Float32Array): void {
    const t = this.info(name);
    if (out.length !== t.numel)
      throw new Error(`safetensors ${this.path}: tensor '${name}' has ${t.numel} elements (shape [${t.shape.join(", ")}]), output has ${out.length}`);
    const size = SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (t.dtype === "F32") {
      this.readBytes(name, t, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), 0);
      return;
    }
    if (t.dtype !== "F16" && t.dtype !== "BF16" && t.dtype !== "F64")
      throw new Error(`safetensors ${this.path}: tensor '${name}' is ${t.dtype}; readFloat32 needs F32, F16, BF16 or F64`);
    const chunkElems = Math.max(1, Math.floor(CONVERT_CHUNK_BYTES / size));
    const staging = new Uint8Array(Math.min(t.numel, chunkElems) * size);
    for (let start = 0; start < t.numel; start += chunkElems) {
      const n = Math.min(chunkElems, t.numel - start);
      const bytes = staging.subarray(0, n * size);
      this.readBytes(name, t, bytes, start * size);
      const dst = out.subarray(start, start + n);
      if (t.dtype === "F64") {
        const src = new Float64Array(staging.buffer, 0, n);
        for (let i = 0; i < n; i++) dst[i] = src[i]!;
      } else {
        const src = new Uint16Array(staging.buffer, 0, n);
        if (t.dtype === "F16") f16ToFloat32(src, dst);
        else bf16ToFloat32(src, dst);
      }
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Reads `target.byteLength` bytes of tensor `t` starting `offset` bytes into its data. */
  private readBytes(name: string, t: SafetensorsTensorInfo, target: Uint8Array, offset: number): void {
    if (this.fd === null) throw new Error(`safetensors ${this.path}: file is closed (reading '${name}')`);
    readFully(this.fd, target, t.fileOffset + offset, `safetensors ${this.path}: tensor '${name}'`);
  }
}

/** Opens and validates a safetensors file (see {@link SafetensorsFile.open}). Call `close()` when done. */
export function readSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.open(path);
}

function parseHeader(fd: number, path: string): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  const where = `safetensors ${path}`;
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) throw new Error(`${where}: truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  readFully(fd, lenBuf, 0, where);
  const n64 = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES))
    throw new Error(`${where}: header length ${n64} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  const n = Number(n64);
  if (n < 2) throw new Error(`${where}: header length ${n} is too small for a JSON object`);
  if (8 + n > fileSize) throw new Error(`${where}: truncated: header length ${n} but the file has only ${fileSize - 8} bytes after it`);
  const headerBytes = new Uint8Array(n);
  readFully(fd, headerBytes, 8, where);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${where}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${where}: header is not a JSON object`);

  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; begin: number; end: number; info: SafetensorsTensorInfo }[] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${where}: __metadata__ is not an object`);
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== "string") throw new Error(`${where}: __metadata__ value '${k}' is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    const bad = (what: string) => new Error(`${where}: tensor '${name}': ${what}`);
    if (typeof v !== "object" || v === null) throw bad("entry is not an object");
    const { dtype, shape, data_offsets: offs } = v as Record<string, unknown>;
    if (!isDType(dtype)) throw bad(`unknown dtype ${JSON.stringify(dtype)} (known: ${SAFETENSORS_DTYPES.join(", ")})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw bad(`data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataSize) throw bad(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes; file truncated?)`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const byteLength = numel * SAFETENSORS_DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(byteLength) || byteLength !== end - begin)
      throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} shape [${shape.join(", ")}] needs ${byteLength}`);
    entries.push({ name, begin, end, info: { dtype, shape: [...(shape as number[])], numel, byteLength, fileOffset: dataStart + begin } });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: (typeof entries)[number] | undefined;
  for (const e of entries) {
    if (e.end === e.begin) continue; // empty tensors occupy no bytes
    if (prev && e.begin < prev.end)
      throw new Error(`${where}: tensors '${prev.name}' [${prev.begin}, ${prev.end}] and '${e.name}' [${e.begin}, ${e.end}] overlap`);
    prev = e;
  }
  return { tensors: new Map(entries.map((e) => [e.name, e.info])), metadata };
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

/** A tensor to write. `data` holds numel elements of `dtype` (F16/BF16 as Uint16 bits), or its raw bytes as Uint8Array. */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayBufferView;
}

type ArrayCtor = { new (n: number): ArrayBufferView; readonly name: string };

/** The typed array expected for each dtype (a Uint8Array of raw bytes is accepted for any dtype). */
const ARRAY_FOR: Record<SafetensorsDType, ArrayCtor> = {
  BOOL: Uint8Array, U8: Uint8Array, I8: Int8Array, F8_E5M2: Uint8Array, F8_E4M3: Uint8Array,
  I16: Int16Array, U16: Uint16Array, F16: Uint16Array, BF16: Uint16Array,
  I32: Int32Array, U32: Uint32Array, F32: Float32Array, F64: Float64Array, I64: BigInt64Array, U64: BigUint64Array,
};

/**
 * Writes `tensors` to `path` atomically: to `path + ".tmp-<pid>"`, fsync, then rename over `path` (the temp
 * file is removed on failure). Layout matches the reference implementation: tensors ordered by dtype alignment
 * (largest first) then name, `__metadata__` first in the header, header padded with spaces to a multiple of 8.
 * Data is written tensor by tensor, so totals over 2 GiB need no single large buffer.
 * @throws Error naming the file and tensor for a bad dtype, shape, array type or byte length.
 */
export function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensor>> | ReadonlyMap<string, SafetensorsTensor>,
  metadata?: Readonly<Record<string, string>>,
): void {
  assertLittleEndian();
  const where = `writeSafetensors ${path}`;
  const list = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))] as [string, SafetensorsTensor][];
  const rank = (d: SafetensorsDType) => SAFETENSORS_DTYPES.indexOf(d);
  for (const [name, t] of list) {
    const bad = (what: string) => new Error(`${where}: tensor '${name}': ${what}`);
    if (name === "__metadata__") throw bad("name is reserved");
    if (!isDType(t.dtype)) throw bad(`unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`bad shape [${t.shape.join(", ")}]`);
    const ctor = ARRAY_FOR[t.dtype];
    if (!(t.data instanceof Uint8Array) && !(t.data instanceof ctor)) {
      const hint = t.dtype === "F16" || t.dtype === "BF16" ? " (convert float32 with float32ToF16 / float32ToBf16)" : "";
      throw bad(`${t.dtype} data must be a ${ctor.name} or Uint8Array, got ${(t.data as object).constructor.name}${hint}`);
    }
    const want = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want) throw bad(`${t.data.byteLength} bytes of data but ${t.dtype} shape [${t.shape.join(", ")}] needs ${want}`);
  }
  list.sort(([na, a], [nb, b]) => rank(b.dtype) - rank(a.dtype) || (na < nb ? -1 : na > nb ? 1 : 0));

  // Built by hand, not JSON.stringify(object): objects put integer-like keys first, which would break the order.
  const parts: string[] = [];
  if (metadata) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== "string") throw new Error(`${where}: metadata value '${k}' is not a string`);
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of list) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + headerLen).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLen), true);
  head.set(json, 8);

  const tmp = `${path}.tmp-${process.pid}`;
  withFsContext("write", path, () => {
    let fd: number | null = fs.openSync(tmp, "w");
    try {
      writeFully(fd, head);
      for (const [, t] of list) writeFully(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = null;
      fs.renameSync(tmp, path);
    } catch (e) {
      if (fd !== null) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  });
}
