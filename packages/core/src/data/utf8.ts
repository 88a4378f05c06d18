/**
 * Strict UTF-8 decoding for data files: invalid bytes are an error naming the file, the line and the
 * byte offset, never a silent U+FFFD.
 */
import { DataError } from "./data-error.js";

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Offset (in bytes) of the first byte of the first invalid UTF-8 sequence in `bytes`, or -1 when all of
 * it is valid UTF-8 (Unicode's well-formed byte sequences: no overlong forms, no surrogates, nothing
 * above U+10FFFF, no sequence cut short by the end).
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line of byte `offset` (1 + the number of `\n` bytes before it). */
export function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/**
 * Decodes `bytes` as UTF-8 (a leading byte-order mark is dropped).
 * @param file named in errors.
 * @param decompressed the bytes are a decompressed stream (the error says offsets count in it).
 * @throws DataError `FILE:LINE: invalid UTF-8 at byte offset N (byte 0xXX)` for the first invalid sequence.
 */
export function decodeUtf8(file: string, bytes: Uint8Array, decompressed = false): string {
  try {
    return strict.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const where = decompressed ? " of the decompressed data" : "";
    const byte = at >= 0 ? ` (byte 0x${bytes[at]!.toString(16).padStart(2, "0")})` : "";
    throw new DataError(file, at >= 0 ? lineOfByte(bytes, at) : 0, `invalid UTF-8 at byte offset ${Math.max(at, 0)}${where}${byte}; expected UTF-8 text (convert the file, e.g. with iconv)`);
  }
}
