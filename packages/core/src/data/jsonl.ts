/**
 * JSON Lines input with errors that name the file and line. Blank lines are skipped.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/** A parsed record and the 1-based line it came from. */
export interface JsonlRecord {
  line: number;
  record: Record<string, unknown>;
}

/** An input error naming the file, the line (1-based; 0 = whole file) and what is wrong. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly lineNumber: number,
    message: string,
  ) {
    super(lineNumber > 0 ? `${file}:${lineNumber}: ${message}` : `${file}: ${message}`);
    this.name = "DataError";
  }
}

/** Reads a whole text file, with a DataError for a missing path or a directory. */
export function readTextFile(path: string): string {
  if (!existsSync(path)) throw new DataError(path, 0, "file not found");
  if (statSync(path).isDirectory()) throw new DataError(path, 0, "is a directory, expected a file");
  return readFileSync(path, "utf8");
}

/**
 * Reads a data file's text; a `.gz` file (e.g. hh-rlhf's `test.jsonl.gz`) is decompressed first.
 * @throws DataError for a missing path, a directory, or a `.gz` file that is not gzip data.
 */
export function readDataText(path: string): string {
  if (!/\.gz$/i.test(path)) return readTextFile(path);
  readTextFile(path); // existence and kind checks
  try {
    return gunzipSync(readFileSync(path)).toString("utf8");
  } catch (e) {
    throw new DataError(path, 0, `cannot decompress (${(e as Error).message})`);
  }
}

/**
 * Parses every non-blank line as a JSON object (`.jsonl.gz` decompressed first).
 * @throws DataError for a missing file, invalid JSON or a line that is not an object.
 */
export function readJsonl(path: string): JsonlRecord[] {
  const text = readDataText(path);
  const out: JsonlRecord[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DataError(path, i + 1, `invalid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DataError(path, i + 1, `expected a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`);
    }
    out.push({ line: i + 1, record: value as Record<string, unknown> });
  });
  return out;
}

/**
 * Reads a JSON file holding an array of objects (e.g. Alpaca's `alpaca_data.json`) or a JSONL file,
 * by extension (.json / .json.gz -> array, else JSONL; `.gz` decompressed). Array records get their
 * 1-based index as `line`.
 * @throws DataError naming the file (and record) on malformed input.
 */
export function readRecords(path: string): JsonlRecord[] {
  if (!/\.json(\.gz)?$/i.test(path)) return readJsonl(path);
  const text = readDataText(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DataError(path, 0, `invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(value)) throw new DataError(path, 0, "expected a JSON array of records");
  return value.map((r, i) => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new DataError(path, i + 1, `record ${i + 1} is not an object`);
    return { line: i + 1, record: r as Record<string, unknown> };
  });
}

/** The string field `field` of a record, or a DataError naming file, line and field. */
export function stringField(path: string, rec: JsonlRecord, field: string): string {
  const v = rec.record[field];
  if (v === undefined) throw new DataError(path, rec.line, `record has no '${field}' field`);
  if (typeof v !== "string") throw new DataError(path, rec.line, `field '${field}' must be a string, got ${v === null ? "null" : typeof v}`);
  return v;
}
