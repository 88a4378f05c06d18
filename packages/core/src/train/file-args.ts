/**
 * Arguments that name files: a string (or list entry) that is the path of an existing file, or a
 * `FILE:export` reward spec whose FILE exists. Used to keep such files out of what an overwrite moves
 * aside, and to compare them by content when a run resumes (a path spelled differently is the same
 * file; a file edited in place is not).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";

/** The existing file a string argument names, or null. */
export function fileOf(value: string): string | null {
  const isFile = (p: string) => p !== "" && existsSync(p) && statSync(p).isFile();
  if (isFile(value)) return value;
  const colon = value.lastIndexOf(":");
  return colon > 0 && isFile(value.slice(0, colon)) ? value.slice(0, colon) : null;
}

/** Every file named by an argument, with its key (camelCase, as in the config). */
export function filesNamedBy(args: object): { key: string; path: string }[] {
  const out: { key: string; path: string }[] = [];
  for (const [key, v] of Object.entries(args)) {
    for (const s of Array.isArray(v) ? v : [v]) {
      const f = typeof s === "string" ? fileOf(s) : null;
      if (f) out.push({ key, path: f });
    }
  }
  return out;
}

/** sha1 of a file's bytes. */
export function fileHash(path: string): string {
  return createHash("sha1").update(readFileSync(path)).digest("hex");
}
