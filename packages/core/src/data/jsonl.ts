/**
 * Dataset records from a file whatever its format (JSON Lines, a JSON array, CSV / TSV, Parquet, each
 * possibly gzip-compressed; see formats.ts), with errors that name the file and line. Blank JSONL lines
 * are skipped.
 */
import { parseCsvRecords } from "./csv.js";
import { DataError } from "./data-error.js";
import { type DataFile, openDataFile, readFileBytes } from "./formats.js";
import { readParquetRecords } from "./parquet.js";
import type { JsonlRecord } from "./records.js";
import { decodeUtf8 } from "./utf8.js";

export { DataError } from "./data-error.js";

/** A data file's content: plain text, or records. */
export type DataContent = { format: "text"; text: string } | { format: Exclude<DataFile["format"], "text">; records: JsonlRecord[] };

/**
 * Reads a whole UTF-8 text file (a config file, a chat template).
 * @throws DataError for a missing path, a directory, or invalid UTF-8 (naming line and byte offset).
 */
export function readTextFile(path: string): string {
  return decodeUtf8(path, readFileBytes(path));
}

/**
 * Reads a data file's text, gzip data decompressed whatever the name (e.g. hh-rlhf's `test.jsonl.gz`).
 * @throws DataError for a missing path, a directory, corrupt gzip, binary or Parquet data, or invalid UTF-8.
 */
export function readDataText(path: string): string {
  const f = openDataFile(path);
  if (f.format === "parquet") throw new DataError(path, 0, "is Parquet data, expected text");
  return f.text;
}

/** "an array", "null", or the typeof name, for "expected a JSON object" messages. */
function jsonKind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/**
 * Parses every non-blank line of `text` as a JSON object.
 * @throws DataError naming the file and line for invalid JSON or a line that is not an object.
 */
export function parseJsonl(file: string, text: string): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = text.length;
    const raw = text.slice(start, nl).trim();
    start = nl + 1;
    if (!raw) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new DataError(file, line, `invalid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new DataError(file, line, `expected a JSON object, got ${jsonKind(value)}`);
    out.push({ line, record: value as Record<string, unknown> });
  }
  return out;
}

/**
 * Parses a JSON array of objects (e.g. Alpaca's `alpaca_data.json`); records get their 1-based index as `line`.
 * @throws DataError naming the file (and the line of a syntax error, or the record) on malformed input.
 */
export function parseJsonArray(file: string, text: string): JsonlRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split("\n").length : 0;
    throw new DataError(file, line, `invalid JSON (${msg})`);
  }
  if (!Array.isArray(value)) {
    const fields = value !== null && typeof value === "object" ? ` (fields: ${Object.keys(value).slice(0, 8).join(", ") || "none"})` : "";
    throw new DataError(file, 0, `expected a JSON array of records or JSON Lines, got ${jsonKind(value) === "object" ? "one JSON object" : jsonKind(value)}${fields}`);
  }
  return value.map((r, i) => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new DataError(file, i + 1, `record ${i + 1} is not an object (got ${jsonKind(r)})`);
    return { line: i + 1, where: `record ${i + 1}`, record: r as Record<string, unknown> };
  });
}

/**
 * Reads a data file, deciding its format by content (gzip decompressed; see formats.ts).
 * @throws DataError naming the file and line/record for anything malformed or refused.
 */
export function readDataFile(path: string): DataContent {
  const f = openDataFile(path);
  switch (f.format) {
    case "parquet":
      return { format: "parquet", records: readParquetRecords(path, f.bytes) };
    case "csv":
    case "tsv":
      return { format: f.format, records: parseCsvRecords(path, f.text, f.format === "csv" ? "," : "\t") };
    case "json":
      return { format: "json", records: parseJsonArray(path, f.text) };
    case "jsonl":
      return { format: "jsonl", records: parseJsonl(path, f.text) };
    case "text":
      return { format: "text", text: f.text };
  }
}

/**
 * Reads the records of a JSON Lines file (any name; gzip decompressed).
 * @throws DataError for a missing file, invalid JSON or a line that is not an object.
 */
export function readJsonl(path: string): JsonlRecord[] {
  return parseJsonl(path, readDataText(path));
}

/**
 * Reads the records of a dataset file: JSON Lines (`.jsonl`, `.ndjson`, any case), a JSON array, CSV /
 * TSV or Parquet, gzip-compressed or not; the format comes from the content (see formats.ts).
 * @throws DataError naming the file (and line or record) on malformed input, or for a file holding
 *   plain text rather than records.
 */
export function readRecords(path: string): JsonlRecord[] {
  const c = readDataFile(path);
  if (c.format === "text") {
    throw new DataError(path, 1, "expected records (JSON Lines, a JSON array, CSV or Parquet), but the file is plain text (its first line is not a JSON object)");
  }
  return c.records;
}

/** "line", "record" or "row": what the `line` of these records counts (for messages listing them). */
export function recordUnit(records: readonly JsonlRecord[]): string {
  return records[0]?.where?.split(" ")[0] ?? "line";
}

/** The string field `field` of a record, or a DataError naming file, line and field. */
export function stringField(path: string, rec: JsonlRecord, field: string): string {
  const v = rec.record[field];
  if (v === undefined) throw new DataError(path, rec.line, `${rec.where ?? "record"} has no '${field}' field`);
  if (typeof v !== "string") throw new DataError(path, rec.line, `${rec.where ? `${rec.where}: ` : ""}field '${field}' must be a string, got ${v === null ? "null" : typeof v}`);
  return v;
}
