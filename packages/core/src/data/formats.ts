/**
 * What a data file holds, decided by its content with the file name as a hint:
 *
 * - gzip data (magic bytes 1f 8b) is decompressed whatever the name, and the rest of the rules look at
 *   the decompressed bytes and the name without `.gz`;
 * - Parquet: magic `PAR1`;
 * - refused with a DataError saying what the file is: other compressors and archives (zstd, bzip2, xz,
 *   zip, 7z), UTF-16 text, Git LFS pointers (the data was never downloaded), and binary data (a NUL byte,
 *   or more than 10% control bytes, in the first 8 KiB);
 * - CSV / TSV: by name (`.csv`, `.tsv`, any case);
 * - JSON array vs JSON Lines by the first non-blank character and whether the first line parses on its
 *   own; `.json`, `.jsonl` and `.ndjson` (any case) make malformed JSON an error rather than text;
 * - anything else is plain text (one document, for continued pretraining).
 *
 * Text is UTF-8; invalid bytes are a DataError naming the line and byte offset (see utf8.ts).
 */
import { readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DataError } from "./data-error.js";
import { decodeUtf8 } from "./utf8.js";

export type DataFormat = "jsonl" | "json" | "csv" | "tsv" | "parquet" | "text";

/** A data file, read and recognized. */
export type DataFile =
  | { path: string; format: "parquet"; gzip: boolean; bytes: Uint8Array }
  | { path: string; format: Exclude<DataFormat, "parquet">; gzip: boolean; text: string };

/** Bytes looked at to tell text from binary data. */
const SNIFF_BYTES = 8192;

const REFUSED: readonly { magic: number[]; what: string }[] = [
  { magic: [0x28, 0xb5, 0x2f, 0xfd], what: "zstd-compressed" },
  { magic: [0x42, 0x5a, 0x68], what: "bzip2-compressed" },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: "xz-compressed" },
  { magic: [0x50, 0x4b, 0x03, 0x04], what: "a zip archive" },
  { magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: "a 7z archive" },
];

const startsWith = (b: Uint8Array, magic: readonly number[], at = 0) => b.length >= at + magic.length && magic.every((m, i) => b[at + i] === m);
const PAR1 = [0x50, 0x41, 0x52, 0x31];
const LFS = Buffer.from("version https://git-lfs.github.com/spec/");

/**
 * Reads a whole file.
 * @throws DataError for a missing path, a directory, or a read failure (naming its errno code).
 */
export function readFileBytes(path: string): Buffer {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new DataError(path, 0, "file not found");
    throw new DataError(path, 0, `cannot read (${code ?? (e as Error).message})`);
  }
  if (isDir) throw new DataError(path, 0, "is a directory, expected a file");
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DataError(path, 0, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The lower-case extension that hints at the format (`.jsonl` for `x.JSONL.gz` read as gzip). */
export function formatHint(path: string, gzip: boolean): string {
  let name = path.toLowerCase();
  if (gzip) name = name.replace(/\.(gz|gzip)$/, "");
  const m = /\.[a-z0-9]+$/.exec(name.slice(name.lastIndexOf("/") + 1));
  return m ? m[0] : "";
}

/**
 * Throws when `bytes` (a file's start, after decompression) are not text: a NUL byte or more than 10%
 * control bytes (other than tab, line feed, carriage return, form feed, vertical tab and escape) in the
 * first 8 KiB. Also names UTF-16 text and Git LFS pointers.
 * @throws DataError naming the file and what it looks like.
 */
export function assertText(file: string, bytes: Uint8Array, decompressed: boolean): void {
  if (startsWith(bytes, [0xff, 0xfe]) || startsWith(bytes, [0xfe, 0xff])) {
    throw new DataError(file, 0, "is UTF-16 text (byte-order mark); expected UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8)");
  }
  if (startsWith(bytes, [...LFS])) throw new DataError(file, 0, "is a Git LFS pointer, not the data (run `git lfs pull` where it was cloned)");
  const n = Math.min(bytes.length, SNIFF_BYTES);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) {
      const of = decompressed ? " of the decompressed data" : "";
      throw new DataError(file, 0, `binary file (a NUL byte at offset ${i}${of}), expected text, JSONL, JSON, CSV or Parquet`);
    }
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0b && b !== 0x0c && b !== 0x0d && b !== 0x1b) || b === 0x7f) control++;
  }
  if (n > 0 && control / n > 0.1) {
    throw new DataError(file, 0, `binary file (${control} of its first ${n} bytes are control bytes), expected text, JSONL, JSON, CSV or Parquet`);
  }
}

/** Whether `s` parses as JSON. */
function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * The format of decoded text: CSV / TSV by name; JSON array or JSON Lines by content (the first
 * non-blank character is `[` or `{`; JSON Lines when the first line is a JSON object on its own); with a
 * `.json` / `.jsonl` / `.ndjson` name, content that is neither is still read as that (so its errors
 * name the line); else plain text.
 */
export function textFormat(hint: string, text: string): Exclude<DataFormat, "parquet"> {
  if (hint === ".csv") return "csv";
  if (hint === ".tsv") return "tsv";
  const jsonName = hint === ".json" || hint === ".jsonl" || hint === ".ndjson";
  const start = text.search(/\S/);
  const c = start < 0 ? "" : text[start];
  if (c === "{" || c === "[") {
    const nl = text.indexOf("\n", start);
    const first = text.slice(start, nl < 0 ? text.length : nl);
    if (parses(first)) {
      const more = nl >= 0 && /\S/.test(text.slice(nl + 1));
      if (c === "[" && !more) return "json";
      return c === "{" || jsonName ? "jsonl" : "text"; // "[1, 2]" then prose in a .txt stays text
    }
    if (jsonName) return c === "[" || hint === ".json" ? "json" : "jsonl";
    return parses(text) ? "json" : "text";
  }
  if (jsonName) return hint === ".json" && c !== "" ? "json" : "jsonl"; // a blank .json file has no records
  return "text";
}

/**
 * Reads a data file and decides its format by content (see the module comment).
 * @throws DataError for a missing file, corrupt gzip data, a refused kind of file (other compression,
 *   archive, binary, UTF-16, Git LFS pointer), a `.parquet` name without Parquet data, or invalid UTF-8
 *   (naming line and byte offset).
 */
export function openDataFile(path: string): DataFile {
  let bytes: Uint8Array = readFileBytes(path);
  const gzip = startsWith(bytes, [0x1f, 0x8b]);
  if (gzip) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(path, 0, `gzip data is corrupt or truncated (${(e as Error).message})`);
    }
  }
  const hint = formatHint(path, gzip);
  const inGzip = gzip ? " (inside gzip)" : "";
  if (startsWith(bytes, PAR1)) {
    if (bytes.length < 12 || !startsWith(bytes, PAR1, bytes.length - 4)) throw new DataError(path, 0, `truncated Parquet file${inGzip} (no PAR1 footer)`);
    return { path, format: "parquet", gzip, bytes };
  }
  if (hint === ".parquet") throw new DataError(path, 0, `has a .parquet name but is not Parquet data${inGzip} (no PAR1 magic bytes)`);
  for (const r of REFUSED) if (startsWith(bytes, r.magic)) throw new DataError(path, 0, `is ${r.what}${inGzip}; ortrl reads gzip (.gz) or uncompressed files: decompress or extract it first`);
  assertText(path, bytes, gzip);
  const text = decodeUtf8(path, bytes, gzip);
  return { path, format: textFormat(hint, text), gzip, text };
}
