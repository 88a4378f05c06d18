import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { OutputDirError, checkModelOutputDir, completeOutputDir, lockOutputDir, modelFilesIn, prepareOutputDir } from "./output-dir.js";

const run = () => {
  const dir = mkdtempSync(join(tmpdir(), "ortrl-outdir-"));
  mkdirSync(join(dir, "checkpoint-2"));
  writeFileSync(join(dir, "checkpoint-2", "trainer_state.json"), "{}");
  for (const f of ["model.safetensors", "config.json", "tokenizer.json"]) writeFileSync(join(dir, f), f);
  writeFileSync(join(dir, "metrics.jsonl"), "{}\n");
  writeFileSync(join(dir, "notes.txt"), "mine");
  return dir;
};
const fresh = { resumeFrom: null, inputs: [] };
const quiet = () => vi.spyOn(process, "emitWarning").mockImplementation(() => {});

describe("prepareOutputDir", () => {
  it("refuses an earlier run without overwrite, and moves all of it aside (not deleting) with overwrite", () => {
    const w = quiet();
    const dir = run();
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: false })).toThrow(OutputDirError);
    const aside = prepareOutputDir(dir, { ...fresh, overwrite: true })!;
    expect(aside).toBe(join(dir, "ortrl-previous-run-1"));
    expect(readdirSync(aside).sort()).toEqual(["checkpoint-2", "config.json", "metrics.jsonl", "model.safetensors", "tokenizer.json"]);
    expect(readdirSync(dir).sort()).toEqual(["notes.txt", "ortrl-previous-run-1"]); // the user's own file stays
    // What was moved aside still counts as a run: a plain run is refused, and never deletes it.
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: false })).toThrow(/already holds a training run \(ortrl-previous-run-1\)/);
    expect(completeOutputDir(dir, false)).toEqual([]);
    expect(existsSync(aside)).toBe(true);
    // A second replacement before the first completed keeps both; a completed overwrite removes them.
    writeFileSync(join(dir, "metrics.jsonl"), "{}\n");
    expect(prepareOutputDir(dir, { ...fresh, overwrite: true })).toBe(join(dir, "ortrl-previous-run-2"));
    expect(completeOutputDir(dir, true)).toHaveLength(2);
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
    w.mockRestore();
  });

  it("resuming: a checkpoint of the directory's run (its own, or one with the same fingerprint elsewhere), or another run only with overwrite", () => {
    const dir = run();
    const stamp = (ck: string, fingerprint: object) => writeFileSync(join(ck, "trainer_state.json"), JSON.stringify({ global_step: 2, ortrl_fingerprint: fingerprint }));
    stamp(join(dir, "checkpoint-2"), { data: "a" });
    expect(prepareOutputDir(dir, { resumeFrom: join(dir, "checkpoint-2"), overwrite: false, inputs: [] })).toBeNull();
    expect(existsSync(join(dir, "model.safetensors"))).toBe(true);
    const other = run();
    stamp(join(other, "checkpoint-2"), { data: "b" });
    expect(() => prepareOutputDir(dir, { resumeFrom: join(other, "checkpoint-2"), overwrite: false, inputs: [] })).toThrow(/is not one of its checkpoints: pass --overwrite-output-dir/);
    // A rescue checkpoint of the same run, written elsewhere, is this run's.
    const rescue = mkdtempSync(join(tmpdir(), "ortrl-rescue-"));
    mkdirSync(join(rescue, "checkpoint-3"));
    stamp(join(rescue, "checkpoint-3"), { data: "a" });
    expect(prepareOutputDir(dir, { resumeFrom: join(rescue, "checkpoint-3"), overwrite: false, inputs: [] })).toBeNull();
    // A checkpoint of an earlier run moved aside inside the directory is not.
    mkdirSync(join(dir, "ortrl-previous-run-1", "checkpoint-2"), { recursive: true });
    stamp(join(dir, "ortrl-previous-run-1", "checkpoint-2"), { data: "old" });
    expect(() => prepareOutputDir(dir, { resumeFrom: join(dir, "ortrl-previous-run-1", "checkpoint-2"), overwrite: false, inputs: [] })).toThrow(/is not one of its checkpoints/);
  });

  it("refuses an output dir that is or contains an input, and moving aside an input file", () => {
    const dir = run();
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: true, inputs: [{ what: "--model", path: dir }] })).toThrow(/is the input of --model/);
    expect(() => prepareOutputDir(dir, { resumeFrom: null, overwrite: false, inputs: [{ what: "--adapter", path: join(dir, "checkpoint-2") }] })).toThrow(/contains the input of --adapter/);
    expect(prepareOutputDir(join(dir, "sub"), { resumeFrom: null, overwrite: false, inputs: [{ what: "--model", path: dir }] })).toBeNull();
    const data = { what: "--data", path: join(dir, "metrics.jsonl") };
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: true, inputFiles: [data] })).toThrow(/--data .*metrics\.jsonl is inside --output-dir .* where the run writes metrics\.jsonl; move it elsewhere first/);
    const cfgDir = mkdtempSync(join(tmpdir(), "ortrl-outdir-"));
    writeFileSync(join(cfgDir, "config.json"), "{}");
    expect(() => prepareOutputDir(cfgDir, { ...fresh, overwrite: false, inputFiles: [{ what: "--config", path: join(cfgDir, "config.json") }] })).toThrow(/--config .*config\.json is inside --output-dir .* where the run writes config\.json/);
    expect(readFileSync(join(dir, "model.safetensors"), "utf8")).toBe("model.safetensors");
  });

  it("refuses a file, or a directory under a file", () => {
    const dir = run();
    expect(() => prepareOutputDir(join(dir, "notes.txt"), { ...fresh, overwrite: false })).toThrow(/is a file, expected a directory/);
    expect(() => prepareOutputDir(join(dir, "notes.txt", "out"), { ...fresh, overwrite: false })).toThrow(/cannot be created: .*notes\.txt is a file/);
  });
});

describe("the merged model of a LoRA run (OUTPUT_DIR/merged)", () => {
  it("marks a run and is moved aside with it", () => {
    const w = quiet();
    const dir = mkdtempSync(join(tmpdir(), "ortrl-outdir-"));
    mkdirSync(join(dir, "merged"));
    writeFileSync(join(dir, "merged", "model.safetensors"), "m");
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: false })).toThrow(/already holds a training run \(merged\)/);
    const aside = prepareOutputDir(dir, { ...fresh, overwrite: true })!;
    expect(readdirSync(aside)).toEqual(["merged"]);
    expect(() => prepareOutputDir(dir, { ...fresh, overwrite: false, inputFiles: [{ what: "--data", path: join(dir, "merged", "x.jsonl") }] })).toThrow(/where the run writes merged/);
    w.mockRestore();
  });
});

describe("checkModelOutputDir (ortrl merge)", () => {
  const inputs = (dir: string) => [{ what: "--model", path: join(dir, "base") }, { what: "--adapter", path: join(dir, "adapter") }];
  it("refuses an input, a directory containing one, a file, and a directory holding a model or adapter unless overwrite; changes nothing", () => {
    const root = mkdtempSync(join(tmpdir(), "ortrl-modelout-"));
    for (const d of ["base", "adapter", "other"]) mkdirSync(join(root, d));
    writeFileSync(join(root, "base", "config.json"), "{}");
    expect(() => checkModelOutputDir(join(root, "base"), { inputs: inputs(root), overwrite: true })).toThrow(
      `--output-dir ${join(root, "base")} is the input of --model (${join(root, "base")}); saving the model would write over it: choose another output directory`,
    );
    expect(() => checkModelOutputDir(root, { inputs: inputs(root), overwrite: true })).toThrow(OutputDirError);
    writeFileSync(join(root, "other", "notes.txt"), "mine");
    expect(checkModelOutputDir(join(root, "other"), { inputs: inputs(root), overwrite: false })).toEqual([]); // the user's files are no model
    expect(checkModelOutputDir(join(root, "new", "deep"), { inputs: inputs(root), overwrite: false })).toEqual([]);
    expect(existsSync(join(root, "new"))).toBe(false);
    for (const f of ["model-00001-of-00002.safetensors", "adapter_model.safetensors"]) {
      const d = mkdtempSync(join(root, "held-"));
      writeFileSync(join(d, f), "x");
      expect(() => checkModelOutputDir(d, { inputs: [], overwrite: false })).toThrow(`--output-dir ${d} already holds a model (${f}); pass --overwrite-output-dir to replace it, or choose another output directory`);
      expect(checkModelOutputDir(d, { inputs: [], overwrite: true })).toEqual([f]);
      expect(readdirSync(d)).toEqual([f]);
    }
    // Tokenizer files alone are no model, but writing a model would replace them.
    const tok = mkdtempSync(join(root, "tok-"));
    writeFileSync(join(tok, "tokenizer.json"), "{}");
    expect(() => checkModelOutputDir(tok, { inputs: [], overwrite: false })).toThrow(`--output-dir ${tok} already holds model files (tokenizer.json); pass --overwrite-output-dir`);
    writeFileSync(join(root, "file"), "x");
    expect(() => checkModelOutputDir(join(root, "file"), { inputs: [], overwrite: true })).toThrow(/is a file, expected a directory/);
    expect(modelFilesIn(join(root, "base"))).toEqual(["config.json"]);
  });
});

describe("lockOutputDir", () => {
  it("one run at a time; a dead process's lock is taken over", () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-lock-"));
    writeFileSync(join(dir, ".ortrl-lock"), `${process.ppid}\n`); // a live process
    expect(() => lockOutputDir(dir)).toThrow(new RegExp(`in use by another run \\(process ${process.ppid}`));
    writeFileSync(join(dir, ".ortrl-lock"), "4194305\n"); // above pid_max: gone
    const release = lockOutputDir(dir);
    expect(readFileSync(join(dir, ".ortrl-lock"), "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, ".ortrl-lock"))).toBe(false);
  });
});
