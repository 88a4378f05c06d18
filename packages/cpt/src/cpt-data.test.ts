/**
 * CPT documents by content, not by name: JSON Lines under any name or compression is records, plain
 * text one document; binary data and invalid UTF-8 refused; empty records skipped as every command
 * does; long documents tokenized whole in bounded chunks.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TokenizerLike } from "@ortrl/core";
import { readDocuments, tokenizeLong } from "./cpt-data.js";

const tmp = mkdtempSync(join(tmpdir(), "ortrl-cpt-data-"));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};
const JSONL = '{"text": "Once upon a time"}\n{"text": "The end"}\n';
const texts = (path: string) => readDocuments(path).map((d) => d.text);

afterEach(() => vi.restoreAllMocks());

describe("readDocuments", () => {
  it("reads records from JSON Lines whatever the name or compression, and from CSV and Parquet", () => {
    const want = ["Once upon a time", "The end"];
    for (const name of ["a.jsonl", "b.JSONL", "c.ndjson"]) expect(texts(file(name, JSONL))).toEqual(want);
    expect(texts(file("d.jsonl.gz", gzipSync(JSONL)))).toEqual(want);
    expect(texts(file("e.txt", gzipSync(JSONL)))).toEqual(want); // gzip data with a text name
    expect(texts(file("f.txt", JSONL))).toEqual(want); // JSON Lines named .txt
    expect(texts(file("g.csv", 'text,id\n"Once upon a time",1\nThe end,2\n'))).toEqual(want);
    expect(texts(file("h.parquet", new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "text", data: want, type: "STRING" }] }))))).toEqual(want);
  });

  it("keeps plain text as one document, gzip-compressed or not", () => {
    const story = "{Chapter one}\nOnce upon a time.\n\nThe end.\n";
    expect(readDocuments(file("s.txt", story))).toEqual([{ source: join(tmp, "s.txt"), text: story }]);
    expect(texts(file("s.txt.gz", gzipSync(story)))).toEqual([story]);
    expect(() => readDocuments(file("blank.txt", " \n\n"))).toThrow(/blank\.txt: file is empty/);
  });

  it("refuses binary data and invalid UTF-8 instead of training on them", () => {
    expect(() => readDocuments(file("weights.txt", new Uint8Array([1, 0, 2, 3])))).toThrow(/weights\.txt: binary file \(a NUL byte at offset 1\)/);
    expect(() => readDocuments(file("latin1.txt", Buffer.concat([Buffer.from("line one\ncaf"), Buffer.from([0xe9, 0x0a])])))).toThrow(/latin1\.txt:2: invalid UTF-8 at byte offset 12/);
  });

  it("skips records with empty text in one counted warning, as `ortrl eval` does; all empty is an error", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const p = file("gaps.jsonl", ['{"text": ""}', '{"text": "Once"}', '{"text": "  \\n"}'].join("\n") + "\n");
    expect(readDocuments(p)).toEqual([{ source: `${p}:2`, text: "Once" }]);
    expect(warn.mock.calls.map(([m]) => String(m))).toEqual([`${p}: skipped 2 of 3 records with an empty 'text' (lines 1, 3)`]);
    expect(() => readDocuments(file("none.jsonl", '{"text": ""}\n'))).toThrow(/none\.jsonl: no record left: the only record has an empty 'text' \(line 1\)/);
  });
});

describe("tokenizeLong", () => {
  it("tokenizes a document without blank lines in bounded chunks, all of it", () => {
    const sizes: number[] = [];
    const tok = { encode: (t: string) => (sizes.push(t.length), [...t].map((c) => c.charCodeAt(0))) } as unknown as TokenizerLike;
    const doc = "a line of words\n".repeat(20_000); // 320 000 characters, no blank line
    const ids = tokenizeLong(tok, doc);
    expect(ids).toHaveLength(doc.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16_384);
  });
});
