/**
 * Package boundaries: every workspace package imports other packages only by name (never another
 * package's files by relative path), and core's folders import each other without cycles
 * (scripts/check-folder-cycles.mjs, type-only imports included).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

const PACKAGES = ["packages/core", "packages/cpt", "packages/sft", "packages/dpo", "packages/grpo", "packages/cli", "examples/plugin-orpo"];

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

it("no package reaches into another package's files", () => {
  const offenders: string[] = [];
  for (const pkg of PACKAGES) {
    const root = resolve(REPO_ROOT, pkg);
    for (const file of tsFiles(join(root, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
        const target = resolve(dirname(file), m[1]!);
        if (relative(root, target).split(sep)[0] === "..") offenders.push(`${relative(REPO_ROOT, file)} imports ${m[1]}`);
      }
    }
  }
  expect(offenders).toEqual([]);
});

it("core's folders have no import cycles", () => {
  const out = execFileSync(process.execPath, [join(REPO_ROOT, "scripts/check-folder-cycles.mjs"), join(REPO_ROOT, "packages/core/src")], { encoding: "utf8" });
  expect(out).toMatch(/train/);
});
