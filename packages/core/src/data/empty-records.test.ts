/** The one empty-record rule: skipped with one counted warning naming field and lines; all empty is an error. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { dropEmptyRecords, isBlank } from "./empty-records.js";

const recs = (...texts: string[]) => texts.map((text, i) => ({ line: i + 1, text }));
const empty = (r: { text: string }) => (isBlank(r.text) ? "text" : undefined);

afterEach(() => vi.restoreAllMocks());

describe("dropEmptyRecords", () => {
  it("skips empty and whitespace-only records with one warning naming the field and lines", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const kept = dropEmptyRecords("d.jsonl", recs("a", "", " \n", "b"), empty);
    expect(kept.map((r) => r.text)).toEqual(["a", "b"]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toBe("d.jsonl: skipped 2 of 4 records with an empty 'text' (lines 2, 3)");
    expect(warn.mock.calls[0]![1]).toEqual({ code: "ORTRL_EMPTY_RECORDS" });
  });

  it("says nothing when no record is empty, and lists at most ten lines", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    expect(dropEmptyRecords("d.jsonl", recs("a"), empty)).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();
    dropEmptyRecords("d.json", recs("a", ...Array<string>(12).fill("")), empty, "record");
    expect(warn.mock.calls[0]![0]).toBe("d.json: skipped 12 of 13 records with an empty 'text' (records 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more)");
  });

  it("is an error when every record is empty", () => {
    expect(() => dropEmptyRecords("d.jsonl", recs(""), empty)).toThrow(/^d\.jsonl: no record left: the only record has an empty 'text' \(line 1\)$/);
    expect(() => dropEmptyRecords("d.parquet", recs("", " "), empty, "row")).toThrow(/^d\.parquet: no record left: all 2 records have an empty 'text' \(rows 1, 2\)$/);
  });
});
