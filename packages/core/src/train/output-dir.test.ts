import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OutputDirError, completeOutputDir, prepareOutputDir } from "./output-dir.js";

const run = () => {
  const dir = mkdtempSync(join(tmpdir(), "ortrl-outdir-"));
  mkdirSync(join(dir, "checkpoint-2"));
  writeFileSync(join(dir, "checkpoint-2", "trainer_state.json"), "{}");
  writeFileSync(join(dir, "model.safetensors"), "weights");
  writeFileSync(join(dir, "metrics.jsonl"), "{}\n");
  writeFileSync(join(dir, "notes.txt"), "mine");
  return dir;
};

describe("prepareOutputDir", () => {
  it("refuses an earlier run without overwrite, and moves it aside (not deleting) with overwrite", () => {
    const dir = run();
    expect(() => prepareOutputDir(dir, { resuming: false, overwrite: false, inputs: [] })).toThrow(OutputDirError);
    const aside = prepareOutputDir(dir, { resuming: false, overwrite: true, inputs: [] })!;
    expect(aside).toBe(join(dir, "ortrl-previous-run-1"));
    expect(readFileSync(join(aside, "model.safetensors"), "utf8")).toBe("weights");
    expect(readdirSync(dir).sort()).toEqual(["notes.txt", "ortrl-previous-run-1"]); // the user's own file stays
    // A second replacement before the first completed keeps both.
    writeFileSync(join(dir, "metrics.jsonl"), "{}\n");
    expect(prepareOutputDir(dir, { resuming: false, overwrite: true, inputs: [] })).toBe(join(dir, "ortrl-previous-run-2"));
    expect(completeOutputDir(dir)).toHaveLength(2);
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
  });

  it("refuses an output dir that is or contains an input; a resumed run keeps its files", () => {
    const dir = run();
    expect(() => prepareOutputDir(dir, { resuming: false, overwrite: true, inputs: [{ what: "--model", path: dir }] })).toThrow(/is the input of --model/);
    expect(() => prepareOutputDir(dir, { resuming: true, overwrite: false, inputs: [{ what: "--adapter", path: join(dir, "checkpoint-2") }] })).toThrow(/contains the input of --adapter/);
    expect(prepareOutputDir(join(dir, "sub"), { resuming: false, overwrite: false, inputs: [{ what: "--model", path: dir }] })).toBeNull();
    expect(prepareOutputDir(dir, { resuming: true, overwrite: false, inputs: [] })).toBeNull();
    expect(existsSync(join(dir, "model.safetensors"))).toBe(true);
  });

  it("refuses a file", () => {
    const dir = run();
    expect(() => prepareOutputDir(join(dir, "notes.txt"), { resuming: false, overwrite: false, inputs: [] })).toThrow(/is a file, expected a directory/);
  });
});
