/**
 * The one rule for empty records, shared by every command that reads a dataset (`train cpt|sft|dpo|grpo`,
 * their evaluation data, `ortrl eval`): a record whose text field is empty or only whitespace is skipped
 * and counted in one warning per file that names the field and the lines; a file in which every
 * record is empty is an error. (Hub datasets such as wikitext hold empty rows; training on a BOS/EOS
 * pair alone, or failing on the first one, would both surprise.)
 */
import { DataError } from "./data-error.js";

/** Whether a field value counts as empty text: a string of whitespace only. */
export function isBlank(v: unknown): boolean {
  return typeof v === "string" && v.trim() === "";
}

/** "3, 7, 9" (at most `max`, then "and N more"). */
export function listNumbers(ns: readonly number[], max = 10): string {
  const head = ns.slice(0, max).join(", ");
  return ns.length > max ? `${head} and ${ns.length - max} more` : head;
}

/**
 * Drops empty records, warning once (code ORTRL_EMPTY_RECORDS) with their count, field and lines.
 * @param emptyField the name of the item's empty text field, or undefined when it has text.
 * @param unit what `line` counts: "line" (JSONL, CSV), "record" (JSON array) or "row" (Parquet).
 * @throws DataError naming the file when every record is empty.
 */
export function dropEmptyRecords<T extends { line: number }>(file: string, items: readonly T[], emptyField: (item: T) => string | undefined, unit = "line"): T[] {
  const kept: T[] = [];
  const lines: number[] = [];
  const fields = new Set<string>();
  for (const item of items) {
    const f = emptyField(item);
    if (f === undefined) kept.push(item);
    else {
      lines.push(item.line);
      fields.add(`'${f}'`);
    }
  }
  if (lines.length === 0) return kept;
  const what = `an empty ${[...fields].join(" or ")} (${unit}${lines.length > 1 ? "s" : ""} ${listNumbers(lines)})`;
  if (kept.length === 0) throw new DataError(file, 0, `no record left: ${lines.length === 1 ? "the only record has" : `all ${lines.length} records have`} ${what}`);
  process.emitWarning(`${file}: skipped ${lines.length} of ${items.length} records with ${what}`, { code: "ORTRL_EMPTY_RECORDS" });
  return kept;
}
