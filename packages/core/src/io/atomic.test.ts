import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeStaleTemporaries, writeDirAtomic, writeFileAtomic } from "./atomic.js";
import { FileSystemError } from "./fs-errors.js";

// Above Linux's pid_max (2^22): never a live process.
const DEAD = 4194305;

describe("atomic writes", () => {
  it("a failing directory fill leaves the earlier directory untouched and no temporary", async () => {
    const root = mkdtempSync(join(tmpdir(), "ortrl-atomic-"));
    const dir = join(root, "checkpoint-1");
    await writeDirAtomic(dir, (t) => writeFileSync(join(t, "a"), "old"));
    await expect(writeDirAtomic(dir, (t) => {
      writeFileSync(join(t, "a"), "new");
      throw new Error("disk died");
    })).rejects.toThrow("disk died");
    expect(readFileSync(join(dir, "a"), "utf8")).toBe("old");
    expect(readdirSync(root)).toEqual(["checkpoint-1"]);
  });

  it("file-system failures name the path and the errno in words", () => {
    const root = mkdtempSync(join(tmpdir(), "ortrl-atomic-"));
    writeFileSync(join(root, "file"), "x");
    const target = join(root, "file", "sub", "model.json"); // a path under a regular file
    let err: unknown;
    try {
      writeFileAtomic(target, "{}");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FileSystemError);
    expect((err as Error).message).toMatch(/^cannot create directory .*file\/sub: a path component is not a directory \(ENOTDIR\)$|^cannot create directory .*file\/sub: already exists \(EEXIST\)$/);
  });
});

describe("removeStaleTemporaries", () => {
  it("removes dead processes' .tmp/.del leftovers, restores an .old directory whose target is missing, keeps live ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "ortrl-stale-"));
    mkdirSync(join(dir, `checkpoint-3.tmp-${DEAD}`));
    writeFileSync(join(dir, `model.safetensors.tmp-${DEAD}`), "partial");
    mkdirSync(join(dir, `checkpoint-1.del-${DEAD}`));
    mkdirSync(join(dir, `checkpoint-2.old-${DEAD}`));
    writeFileSync(join(dir, `checkpoint-2.old-${DEAD}`, "trainer_state.json"), "{}");
    mkdirSync(join(dir, "checkpoint-4"));
    mkdirSync(join(dir, `checkpoint-4.old-${DEAD}`)); // replaced: the new one is in place
    const live = `checkpoint-5.tmp-${process.ppid}`;
    mkdirSync(join(dir, live));
    for (const mine of ["notes.tmp-2023", "eval.json.tmp-12345", "results.json.old-20240101"]) writeFileSync(join(dir, mine), "user's");
    const done = removeStaleTemporaries(dir, (n) => /^checkpoint-\d+$/.test(n) || n === "model.safetensors");
    expect(done).toHaveLength(5);
    expect(readdirSync(dir).sort()).toEqual(["checkpoint-2", "checkpoint-4", live, "notes.tmp-2023", "eval.json.tmp-12345", "results.json.old-20240101"].sort());
    expect(existsSync(join(dir, "checkpoint-2", "trainer_state.json"))).toBe(true);
  });
});
