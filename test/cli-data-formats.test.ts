/**
 * Data input through the built binary (run `npm run build` first): formats decided by content (gzip
 * JSONL for `train cpt`, CSV and Parquet for `eval`), binary data and invalid UTF-8 refused, the one
 * empty-record rule shared by `train cpt` and `eval`, and `eval` truncating a multi-megabyte record
 * without tokenizing it whole.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { type CliResult, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-data-"));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};
const STORIES = ["Once upon a time, there was a little girl named Lily.", "She liked to play in the park with her friend Max.", "One day they found a big red ball."];
const JSONL = STORIES.map((text) => JSON.stringify({ text })).join("\n") + "\n";
const evalOf = (data: string, ...more: string[]) => ortrl(["eval", "--model", MODEL, "--data", data, ...more]);
const cpt = (data: string, out: string) =>
  ortrl(["train", "cpt", "--model", MODEL, "--data", data, "--output-dir", join(tmp, out), "--max-steps", "2", "--max-seq-length", "16", "--per-device-train-batch-size", "2"], { timeoutMs: 60_000 });
const result = (r: CliResult) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);
const warnings = (r: CliResult) => r.stderr.split("\n").filter((l) => l.startsWith("ortrl: warning"));

describe("formats by content", () => {
  it("train cpt reads .jsonl.gz and gzip named .txt as the same records as .jsonl", () => {
    const plain = cpt(file("stories.jsonl", JSONL), "plain");
    expectOk(plain);
    for (const [name, out] of [["stories.jsonl.gz", "gz"], ["stories.txt", "disguised"]] as const) {
      const r = cpt(file(name, gzipSync(JSONL)), out);
      expectOk(r);
      expect(result(r).train_loss).toBe(result(plain).train_loss);
    }
  });

  it("eval reads CSV and Parquet records as it reads JSON Lines", () => {
    const want = JSON.parse(evalOf(file("s.jsonl", JSONL)).stdout);
    const csv = STORIES.map((t) => `"${t}",x`).join("\n");
    const parquet = parquetWriteBuffer({ columnData: [{ name: "text", data: STORIES, type: "STRING" }] });
    for (const p of [file("s.csv", `text,other\n${csv}\n`), file("s.parquet", new Uint8Array(parquet))]) {
      const r = evalOf(p);
      expectOk(r);
      expect(JSON.parse(r.stdout)).toEqual(want);
    }
  });

  it("refuses binary data and invalid UTF-8 with one line naming the file, line and byte offset", () => {
    expectFailure(cpt(file("weights.txt", readFileSync(join(MODEL, "model.safetensors")).subarray(0, 4096)), "never"), /weights\.txt: binary file .*expected text, JSONL, JSON, CSV or Parquet/);
    const latin1 = Buffer.concat([Buffer.from(JSONL), Buffer.from('{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    expectFailure(evalOf(file("latin1.jsonl", latin1)), /latin1\.jsonl:4: invalid UTF-8 at byte offset \d+ \(byte 0xe9\)/);
    expectFailure(cpt(file("latin1.txt", latin1), "never"), /latin1\.txt:4: invalid UTF-8 at byte offset/);
  });
});

describe("empty records: one rule for every command", () => {
  it("train cpt and eval skip them with the same counted warning, and both refuse a file with nothing else", () => {
    const gaps = file("gaps.jsonl", ['{"text": ""}', JSON.stringify({ text: STORIES.join(" ") }), '{"text": "  "}'].join("\n") + "\n");
    const warning = `ortrl: warning: ${gaps}: skipped 2 of 3 records with an empty 'text' (lines 1, 3)`;
    const e = evalOf(gaps);
    expectOk(e);
    expect(warnings(e)).toEqual([warning]);
    const t = cpt(gaps, "gaps");
    expectOk(t);
    expect(warnings(t)).toContain(warning);
    const none = file("none.jsonl", '{"text": ""}\n{"text": " "}\n');
    const error = /none\.jsonl: no record left: all 2 records have an empty 'text' \(lines 1, 2\)/;
    expectFailure(evalOf(none), error);
    expectFailure(cpt(none, "never"), error);
  });
});

describe("eval of a record longer than --max-length", () => {
  it("scores all of it in --max-length windows (strided perplexity), with no truncation", () => {
    const long = file("long.jsonl", JSON.stringify({ text: `${STORIES.join(" ")} `.repeat(20) }) + "\n"); // one line, hundreds of tokens
    const r = evalOf(long, "--max-length", "16");
    expectOk(r);
    expect(warnings(r)).toEqual([]);
    const out = JSON.parse(r.stdout);
    const all = out.tokens + out.unscored; // every token of the record, BOS included
    expect(all).toBeGreaterThan(200);
    expect(out.windows).toBe(Math.ceil(all / 16));
    const strided = JSON.parse(evalOf(long, "--max-length", "16", "--stride", "8").stdout);
    expect(strided.tokens).toBe(all - 1);
  });
});
