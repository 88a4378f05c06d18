/**
 * ggml tensor types written by the exporter and their encoders from float32: F32, F16, BF16 and the block
 * quantizations Q8_0 and Q4_0, bit-for-bit as ggml's reference quantizers (ggml-quants.c `quantize_row_q8_0_ref`,
 * `quantize_row_q4_0_ref`) and gguf-py's `quants.py` compute them, in float32 arithmetic.
 *
 * - Q8_0: blocks of 32 values along a row -> { f16 d; int8 qs[32] } (34 bytes), d = max|x| / 127,
 *   qs = round-half-away-from-zero(x / d).
 * - Q4_0: blocks of 32 -> { f16 d; u8 qs[16] } (18 bytes), d = m / -8 where m is the value of largest magnitude
 *   (first one on ties), q = min(15, trunc(x / d + 8.5)); byte j holds q[j] in its low nibble and q[j + 16] in its high one.
 */
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from "@ortrl/core";

/** ggml's `enum ggml_type` values for the types written here. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Values per quantization block for Q8_0 and Q4_0. */
export const QK = 32;

const BLOCK: Record<GgmlType, { values: number; bytes: number }> = {
  [GgmlType.F32]: { values: 1, bytes: 4 },
  [GgmlType.F16]: { values: 1, bytes: 2 },
  [GgmlType.BF16]: { values: 1, bytes: 2 },
  [GgmlType.Q8_0]: { values: QK, bytes: 2 + QK },
  [GgmlType.Q4_0]: { values: QK, bytes: 2 + QK / 2 },
};

export function ggmlTypeName(t: GgmlType): string {
  return Object.entries(GgmlType).find(([, v]) => v === t)?.[0] ?? `type ${t}`;
}

/** Whether a row of `rowLength` values can be stored as type `t` (block types need a multiple of 32). */
export function rowFits(t: GgmlType, rowLength: number): boolean {
  return rowLength % BLOCK[t].values === 0;
}

/**
 * Bytes of a tensor of type `t` with dims innermost first.
 * @throws Error when the row length is not a multiple of the type's block size.
 */
export function tensorBytes(t: GgmlType, dims: readonly number[]): number {
  const { values, bytes } = BLOCK[t];
  if (dims[0]! % values !== 0) throw new Error(`ggml ${ggmlTypeName(t)} needs rows of a multiple of ${values} values, got ${dims[0]}`);
  return (dims.reduce((a, b) => a * b, 1) / values) * bytes;
}

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Block scales as f16 bits. @throws Error when a scale overflows float16 (a value beyond 65504 * `levels`), which
 * would make the block Inf/NaN in llama.cpp; the caller names the tensor.
 */
function f16Scales(scales: Float32Array, levels: number): Uint16Array {
  for (let b = 0; b < scales.length; b++) {
    if (Math.abs(scales[b]!) > 65504) throw new RangeError(`a block scale (${Math.abs(scales[b]!)}) is beyond float16's range (values beyond ${65504 * levels}): export with --outtype f16/bf16/f32`);
  }
  return float32ToF16(scales);
}

function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const bs = 2 + QK;
  const out = new Uint8Array(nb * bs);
  const qs = new Int8Array(out.buffer);
  const scales = new Float32Array(nb);
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[base + j]!));
    const d = f(amax / 127);
    scales[b] = d;
    const id = d !== 0 ? f(1 / d) : 0;
    const o = b * bs + 2;
    for (let j = 0; j < QK; j++) {
      const v = f(x[base + j]! * id);
      const r = Math.floor(Math.abs(v) + 0.5); // roundf: half away from zero
      qs[o + j] = v < 0 ? -r : r;
    }
  }
  // The scales as f16 (round to nearest even, as numpy's astype(float16) and ggml's FP32_TO_FP16), little-endian.
  const bits = f16Scales(scales, 127);
  for (let b = 0; b < nb; b++) {
    out[b * bs] = bits[b]! & 0xff;
    out[b * bs + 1] = bits[b]! >> 8;
  }
  return out;
}

function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const bs = 2 + QK / 2;
  const out = new Uint8Array(nb * bs);
  const scales = new Float32Array(nb);
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[base + j]!;
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    const d = f(max / -8);
    scales[b] = d;
    const id = d !== 0 ? f(1 / d) : 0;
    const o = b * bs + 2;
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(15, Math.trunc(f(f(x[base + j]! * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(x[base + QK / 2 + j]! * id) + 8.5)));
      out[o + j] = q0 | (q1 << 4);
    }
  }
  const bits = f16Scales(scales, 8);
  for (let b = 0; b < nb; b++) {
    out[b * bs] = bits[b]! & 0xff;
    out[b * bs + 1] = bits[b]! >> 8;
  }
  return out;
}

/**
 * Encodes row-major float32 values (rows of dims[0] values) as type `t`.
 * @throws Error when a value is NaN/Inf, or overflows float16 (|x| > 65504) for F16.
 */
export function encodeTensor(t: GgmlType, x: Float32Array, name: string): Uint8Array {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new Error(`tensor '${name}' has a non-finite value (${x[i]}) at index ${i}`);
  }
  switch (t) {
    case GgmlType.F32: return asBytes(x);
    case GgmlType.BF16: return asBytes(float32ToBf16(x));
    case GgmlType.F16: {
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]!) > 65504) throw new Error(`tensor '${name}' has a value (${x[i]}) beyond float16's range at index ${i}: export with --outtype bf16 or f32`);
      }
      return asBytes(float32ToF16(x));
    }
    case GgmlType.Q8_0:
    case GgmlType.Q4_0:
      try {
        return t === GgmlType.Q8_0 ? quantizeQ8_0(x) : quantizeQ4_0(x);
      } catch (e) {
        throw new Error(`tensor '${name}': ${(e as Error).message}`);
      }
  }
}

/** Decodes type `t` back to float32 (for tests and checks). */
export function decodeTensor(t: GgmlType, bytes: Uint8Array, numel: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const halves = (n: number) => new Uint16Array(bytes.slice(0, n * 2).buffer);
  const half = (o: number) => f16ToFloat32(Uint16Array.of(view.getUint16(o, true)))[0]!;
  const out = new Float32Array(numel);
  switch (t) {
    case GgmlType.F32: return new Float32Array(bytes.slice(0, numel * 4).buffer);
    case GgmlType.F16: return f16ToFloat32(halves(numel));
    case GgmlType.BF16: return bf16ToFloat32(halves(numel));
    case GgmlType.Q8_0:
      for (let b = 0; b < numel / QK; b++) {
        const o = b * (2 + QK);
        const d = half(o);
        for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(o + 2 + j) * d;
      }
      return out;
    case GgmlType.Q4_0:
      for (let b = 0; b < numel / QK; b++) {
        const o = b * (2 + QK / 2);
        const d = half(o);
        for (let j = 0; j < QK / 2; j++) {
          const byte = view.getUint8(o + 2 + j);
          out[b * QK + j] = ((byte & 0x0f) - 8) * d;
          out[b * QK + QK / 2 + j] = ((byte >> 4) - 8) * d;
        }
      }
      return out;
  }
}
