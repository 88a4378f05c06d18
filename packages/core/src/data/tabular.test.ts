/** CSV / TSV and Parquet datasets: records with their file line or row, and errors that name them. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { readRecords, stringField } from "./jsonl.js";

const tmp = mkdtempSync(join(tmpdir(), "ortrl-tabular-"));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};

describe("CSV and TSV", () => {
  it("reads quoted, multi-line fields and gives each record the file line it starts on", () => {
    const csv = 'instruction,output\n"Say ""hi"".",hi\n\n"Two\nlines",ok\nlast,one';
    const want = [
      { line: 2, record: { instruction: 'Say "hi".', output: "hi" } },
      { line: 4, record: { instruction: "Two\nlines", output: "ok" } },
      { line: 6, record: { instruction: "last", output: "one" } },
    ];
    expect(readRecords(file("a.csv", csv))).toEqual(want);
    expect(readRecords(file("crlf.CSV", csv.replace(/\n/g, "\r\n")))).toEqual(want);
    expect(readRecords(file("a.csv.gz", gzipSync(csv)))).toEqual(want);
    expect(readRecords(file("a.tsv", "text\tid\nhello world\t1\n"))).toEqual([{ line: 2, record: { text: "hello world", id: "1" } }]);
  });

  it("names the line of a malformed row and a bad header", () => {
    expect(() => readRecords(file("short.csv", "text,label\na,1\nb\n"))).toThrow(/short\.csv:3: invalid CSV \(Invalid Record Length/);
    expect(() => readRecords(file("open.csv", 'text\n"never closed\n'))).toThrow(/open\.csv:\d+: invalid CSV \(Quote Not Closed/);
    expect(() => readRecords(file("dup.csv", "text,text\na,b\n"))).toThrow(/dup\.csv:1: column 'text' appears twice in the header/);
    expect(() => readRecords(file("noname.csv", "text,\na,b\n"))).toThrow(/noname\.csv:1: column 2 of the header has no name/);
  });
});

describe("Parquet", () => {
  const table = () =>
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: "text", data: ["Once upon a time", "The end", null], type: "STRING" },
          { name: "id", data: [1n, 2n, 3n], type: "INT64" },
        ],
      }),
    );

  it("reads rows as records (row N), INT64 as numbers, gzip-wrapped or under any name", () => {
    for (const p of [file("t.parquet", table()), file("t.parquet.gz", gzipSync(table())), file("t.bin", table())]) {
      const recs = readRecords(p);
      expect(recs.map((r) => [r.line, r.where, r.record])).toEqual([
        [1, "row 1", { text: "Once upon a time", id: 1 }],
        [2, "row 2", { text: "The end", id: 2 }],
        [3, "row 3", { text: null, id: 3 }],
      ]);
      expect(() => stringField(p, recs[2]!, "text")).toThrow(/:3: row 3: field 'text' must be a string, got null/);
      expect(() => stringField(p, recs[0]!, "prompt")).toThrow(/:1: row 1 has no 'prompt' field/);
    }
  });

  it("names the row and column of invalid UTF-8, and refuses what is not Parquet", () => {
    const bad = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "text", data: [new Uint8Array([0x61]), new Uint8Array([0x62, 0xff])], type: "STRING" }] }));
    expect(() => readRecords(file("bad.parquet", bad))).toThrow(/bad\.parquet: row 2: column 'text': invalid UTF-8 at byte offset 1 of the value/);
    expect(() => readRecords(file("fake.parquet", "text\n"))).toThrow(/fake\.parquet: has a \.parquet name but is not Parquet data/);
    expect(() => readRecords(file("cut.parquet", table().subarray(0, 30)))).toThrow(/cut\.parquet: truncated Parquet file \(no PAR1 footer\)/);
  });
});
