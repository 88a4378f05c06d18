import { describe, expect, it } from "vitest";
import { ConfigError, FileSystemError, OutputDirError } from "@ortrl/core";
import { UsageError, errorLine, exitCodeOf } from "./errors.js";

describe("the CLI's error reporter", () => {
  it("says raw system errors as path + errno in words", () => {
    const e = Object.assign(new Error("EACCES: permission denied, open '/ro/out/metrics.jsonl'"), { code: "EACCES", syscall: "open", path: "/ro/out/metrics.jsonl" });
    expect(errorLine(e)).toBe("cannot open /ro/out/metrics.jsonl: permission denied (EACCES)");
    const rofs = Object.assign(new Error("EROFS: read-only file system, mkdir '/ro/x'"), { code: "EROFS", syscall: "mkdir", path: "/ro/x" });
    expect(errorLine(rofs)).toBe("cannot mkdir /ro/x: read-only file system (EROFS)");
    expect(errorLine(new FileSystemError("write", "/d/model.safetensors", "ENOSPC", Object.assign(new Error("x"), { code: "ENOSPC" })))).toBe("cannot write /d/model.safetensors: no space left on device (ENOSPC)");
  });

  it("joins a multi-line message into one line instead of cutting it", () => {
    expect(errorLine(new Error("eval_holdout 0.999 leaves no training record\n  (3 records, 3 held out)"))).toBe("eval_holdout 0.999 leaves no training record (3 records, 3 held out)");
  });

  it("exits 2 for usage errors and 1 otherwise", () => {
    expect(exitCodeOf(new UsageError("x"))).toBe(2);
    expect(exitCodeOf(new ConfigError("f.yaml", "beta", "x"))).toBe(2);
    expect(exitCodeOf(new OutputDirError("x"))).toBe(2);
    expect(exitCodeOf(new Error("x"))).toBe(1);
  });
});
