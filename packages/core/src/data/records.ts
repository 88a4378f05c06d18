/**
 * Records as dataset readers see them, and helpers they share: the parsed record type (what every file
 * format is read into), checking chat message lists in records, naming a value's kind in messages, and
 * holding out the last records for evaluation.
 */
import type { ChatMessage } from "../tokenizer/chat-template.js";

/** A parsed record and where it came from. */
export interface JsonlRecord {
  /** 1-based: the file line (JSON Lines, CSV), the array index (JSON array) or the row (Parquet). */
  line: number;
  record: Record<string, unknown>;
  /** How messages name the record when `line` is not a file line: "record 3" (JSON array), "row 3" (Parquet). */
  where?: string;
}

/** "null", "nothing", "a list", "an object", or the typeof name, for error messages. */
export function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : typeof v;
}

/**
 * Checks that `v` is a non-empty list of `{role, content}` string messages.
 * @param fail throws the caller's error (e.g. a DataError naming file and record) with the message.
 */
export function messageList(v: unknown, field: string, fail: (msg: string) => never): ChatMessage[] {
  if (!Array.isArray(v)) fail(`field '${field}' must be a list of {role, content} messages, got ${kindOf(v)}`);
  const list = v as unknown[];
  if (list.length === 0) fail(`field '${field}' is an empty message list`);
  list.forEach((m, i) => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) fail(`${field}[${i}] must be a {role, content} object, got ${kindOf(m)}`);
    const o = m as Record<string, unknown>;
    if (typeof o.role !== "string") fail(`${field}[${i}].role must be a string, got ${kindOf(o.role)}`);
    if (typeof o.content !== "string") fail(`${field}[${i}].content must be a string, got ${kindOf(o.content)}`);
  });
  return list as ChatMessage[];
}

/**
 * Splits records into (train, held-out): the last round(n * fraction) records (at least 1) are held out.
 * @throws Error when there are too few records to hold any out.
 */
export function holdOutRecords<T>(records: readonly T[], fraction: number): { train: T[]; held: T[] } {
  if (fraction <= 0) return { train: [...records], held: [] };
  const k = Math.min(records.length - 1, Math.max(1, Math.round(records.length * fraction)));
  if (k <= 0) throw new Error(`evalHoldout ${fraction}: ${records.length} record(s) are too few to hold any out`);
  return { train: records.slice(0, records.length - k), held: records.slice(records.length - k) };
}
