/**
 * Append-only JSONL logs of a run (`metrics.jsonl`, `samples.jsonl`, GRPO's `completions.jsonl`): one object
 * per line with a `step`. A run killed between logging a step and checkpointing it, or in the middle of a
 * line, leaves lines a resumed run will write again; {@link reconcileStepLog} brings the log back to the
 * checkpoint (the trainer does it for every file of {@link STEP_LOGS} when it resumes).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { withFsContext } from "../io/fs-errors.js";

/** The step logs of a run's output directory, cut back to the checkpoint's step when a run resumes. */
export const STEP_LOGS: readonly string[] = ["metrics.jsonl", "samples.jsonl", "completions.jsonl"];

/**
 * Appends `record` as one JSON line to `file` (creating its directory).
 * @throws FileSystemError naming the file (no space, read-only, ...).
 */
export function appendStepLog(file: string, record: object): void {
  withFsContext("write", file, () => {
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, JSON.stringify(record) + "\n");
  });
}

/**
 * Keeps the complete lines of `file` whose `step` is at most `step` (a torn last line, or a line
 * that is not JSON, is dropped), rewriting the file atomically when anything changes.
 * @returns the number of lines dropped (0 when the file does not exist).
 * @throws FileSystemError when the file cannot be rewritten.
 */
export function reconcileStepLog(file: string, step: number): number {
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const complete = lines.slice(0, -1); // what follows the last newline is empty, or a torn line
  const keep = complete.filter((l) => {
    try {
      const s = (JSON.parse(l) as { step?: unknown }).step;
      return typeof s === "number" && s <= step;
    } catch {
      return false;
    }
  });
  const dropped = lines.filter((l) => l !== "").length - keep.length;
  if (dropped > 0) writeFileAtomic(file, keep.map((l) => `${l}\n`).join(""));
  return dropped;
}
