/** The shared fixtures folder: where SHARED_DIR points, with and without ORTRL_SHARED. */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { SHARED_DIR } from "./fixtures.js";

describe("SHARED_DIR", () => {
  it("is ../shared beside the repository root unless ORTRL_SHARED says otherwise", async () => {
    const besideRepo = fileURLToPath(new URL("../../../../../shared/", import.meta.url));
    if (!process.env.ORTRL_SHARED) expect(SHARED_DIR).toBe(besideRepo);
    expect(SHARED_DIR.endsWith("/")).toBe(true);
    await expect(readFile(join(SHARED_DIR, "README.md"), "utf8")).resolves.toContain("shared/");
  });

  it("takes ORTRL_SHARED (resolved, with a trailing separator) when set", async () => {
    const saved = process.env.ORTRL_SHARED;
    try {
      process.env.ORTRL_SHARED = "some/where";
      vi.resetModules();
      const fresh = await import("./fixtures.js");
      expect(fresh.SHARED_DIR).toBe(resolve("some/where") + "/");
      expect(fresh.STORIES_DIR).toBe(resolve("some/where/models/stories260K-hf"));
    } finally {
      if (saved === undefined) delete process.env.ORTRL_SHARED;
      else process.env.ORTRL_SHARED = saved;
      vi.resetModules();
    }
  });
});
