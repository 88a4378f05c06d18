/**
 * Data files recognized by content, the name only a hint: gzip whatever the name, `.ndjson` and any case
 * of `.jsonl`, JSON arrays vs JSON Lines, plain text; binary data, other compressors, UTF-16 and invalid
 * UTF-8 refused with the file, line and byte offset.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DataError, readDataFile, readRecords, readTextFile } from "./jsonl.js";
import { firstInvalidUtf8 } from "./utf8.js";

const tmp = mkdtempSync(join(tmpdir(), "ortrl-formats-"));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};
const JSONL = '{"text": "one"}\n\n{"text": "two"}\n';
const texts = (path: string) => readRecords(path).map((r) => [r.line, r.record.text]);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("JSON Lines under any name", () => {
  it("reads .ndjson, .JSONL, .jsonl.gz and gzip data named .txt alike", () => {
    const want = [
      [1, "one"],
      [3, "two"],
    ];
    expect(texts(file("a.ndjson", JSONL))).toEqual(want);
    expect(texts(file("b.JSONL", JSONL))).toEqual(want);
    expect(texts(file("c.jsonl.gz", gzipSync(JSONL)))).toEqual(want);
    const disguised = file("d.txt", gzipSync(JSONL));
    expect(readDataFile(disguised).format).toBe("jsonl");
    expect(texts(disguised)).toEqual(want);
    expect(texts(file("e.json", JSONL))).toEqual(want); // JSON Lines named .json
  });

  it("reads a JSON array, also pretty-printed and gzip-compressed, naming records by index", () => {
    const arr = JSON.stringify([{ text: "one" }, { text: "two" }], null, 2);
    for (const p of [file("f.json", arr), file("g.json.gz", gzipSync(arr)), file("h.data", arr)]) {
      const recs = readRecords(p);
      expect(recs.map((r) => [r.line, r.where, r.record.text])).toEqual([
        [1, "record 1", "one"],
        [2, "record 2", "two"],
      ]);
    }
  });

  it("says 'got null' for a null line and names the line of bad JSON", () => {
    expect(() => readRecords(file("null.jsonl", '{"text": "a"}\nnull\n'))).toThrow(/null\.jsonl:2: expected a JSON object, got null$/);
    expect(() => readRecords(file("arr.jsonl", "[1, 2]\n[3]\n"))).toThrow(/arr\.jsonl:1: expected a JSON object, got an array$/);
    expect(() => readRecords(file("num.jsonl", "{}\n3\n"))).toThrow(/num\.jsonl:2: expected a JSON object, got number$/);
    expect(() => readRecords(file("bad.ndjson", '{"text": "a"}\n{"text": \n'))).toThrow(/bad\.ndjson:2: invalid JSON/);
    expect(() => readRecords(file("obj.json", '{\n  "data": [1]\n}\n'))).toThrow(/obj\.json: expected a JSON array of records or JSON Lines, got one JSON object \(fields: data\)/);
  });

  it("finds no records in a blank .json or .jsonl file", () => {
    expect(readRecords(file("blank.json", " \n"))).toEqual([]);
    expect(readRecords(file("blank.jsonl", ""))).toEqual([]);
  });

  it("drops a UTF-8 byte-order mark", () => {
    expect(texts(file("bom.jsonl", "\uFEFF" + JSONL))).toEqual([
      [1, "one"],
      [3, "two"],
    ]);
  });
});

describe("plain text", () => {
  it("stays text: prose, text that starts with a bracket, and an empty file", () => {
    expect(readDataFile(file("p.txt", "Once upon a time.\n"))).toEqual({ format: "text", text: "Once upon a time.\n" });
    expect(readDataFile(file("lyrics.txt", "[Verse 1]\nla la\n")).format).toBe("text");
    expect(readDataFile(file("list.txt", "[1, 2]\nand more prose\n")).format).toBe("text");
    expect(readDataFile(file("brace.txt", "{ not json\n")).format).toBe("text");
    expect(readDataFile(file("empty.txt", "")).format).toBe("text");
  });

  it("is not a record file", () => {
    expect(() => readRecords(file("prose.jsonl.txt", "hello\n"))).toThrow(/prose\.jsonl\.txt:1: expected records \(JSON Lines, a JSON array, CSV or Parquet\), but the file is plain text/);
  });
});

describe("refused files", () => {
  it("refuses binary data whatever its name", () => {
    const bin = new Uint8Array([0x7b, 0x22, 0x00, 0x01, 0x02, 0x03, 0x10, 0x7d]);
    expect(() => readRecords(file("model.jsonl", bin))).toThrow(/model\.jsonl: binary file \(a NUL byte at offset 2\), expected text, JSONL, JSON, CSV or Parquet/);
    expect(() => readDataFile(file("ctrl.txt", new Uint8Array(100).fill(0x01)))).toThrow(/binary file \(100 of its first 100 bytes are control bytes\)/);
    expect(() => readDataFile(file("bin.txt.gz", gzipSync(bin)))).toThrow(/binary file \(a NUL byte at offset 2 of the decompressed data\)/);
  });

  it("names other compressors, UTF-16, Git LFS pointers and corrupt gzip", () => {
    expect(() => readDataFile(file("z.jsonl.zst", new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3])))).toThrow(/is zstd-compressed; ortrl reads gzip/);
    expect(() => readDataFile(file("a.zip", new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0])))).toThrow(/is a zip archive/);
    expect(() => readDataFile(file("u16.txt", new Uint8Array([0xff, 0xfe, 0x61, 0x00])))).toThrow(/is UTF-16 text/);
    expect(() => readDataFile(file("lfs.parquet.txt", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n"))).toThrow(/Git LFS pointer/);
    expect(() => readDataFile(file("cut.jsonl.gz", gzipSync(JSONL).subarray(0, 12)))).toThrow(/cut\.jsonl\.gz: gzip data is corrupt or truncated/);
  });

  it("reports invalid UTF-8 with the file, line and byte offset", () => {
    const bytes = Buffer.concat([Buffer.from('{"text": "ok"}\n{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    const p = file("latin1.jsonl", bytes);
    let err: unknown;
    try {
      readRecords(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).lineNumber).toBe(2);
    expect((err as Error).message).toBe(`${p}:2: invalid UTF-8 at byte offset 28 (byte 0xe9); expected UTF-8 text (convert the file, e.g. with iconv)`);
    expect(() => readRecords(file("latin1.jsonl.gz", gzipSync(bytes)))).toThrow(/latin1\.jsonl\.gz:2: invalid UTF-8 at byte offset 28 of the decompressed data/);
    expect(() => readTextFile(file("tpl.jinja", Buffer.from([0x61, 0x0a, 0x0a, 0xc3, 0x28])))).toThrow(new RegExp(`${esc("tpl.jinja")}:3: invalid UTF-8 at byte offset 3`));
  });

  it("locates the first invalid UTF-8 sequence", () => {
    const at = (...b: number[]) => firstInvalidUtf8(new Uint8Array(b));
    expect(at(0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80)).toBe(-1);
    expect(at(0x61, 0xc0, 0x80)).toBe(1); // overlong
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // surrogate
    expect(at(0x61, 0x62, 0xe2, 0x82)).toBe(2); // cut short
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // above U+10FFFF
  });
});
