/**
 * Test-only helpers for bad-input tests: the message an operation fails with, and copies of a model or
 * adapter directory with one thing changed. Not exported from the package index.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from "../io/safetensors.js";

/** The message `fn` throws (or rejects with); fails the test when it does not. */
export async function errorOfAsync(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

/** The message `fn` throws; fails the test when it does not. */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

/** Every tensor of a safetensors file as float32, in the form writeSafetensors takes. */
export function readAllFloat32(file: string): Record<string, SafetensorsTensor> {
  const f = readSafetensors(file);
  try {
    const out: Record<string, SafetensorsTensor> = {};
    for (const n of f.tensorNames) out[n] = { dtype: "F32", shape: f.info(n).shape, data: f.readFloat32(n) };
    return out;
  } finally {
    f.close();
  }
}

/**
 * Copies directory `from` to `to`, then edits its JSON file `json.file` with `json.edit` and rewrites its
 * safetensors file `tensors.file` after `tensors.edit`. Returns `to`.
 */
export function editedCopy(
  from: string,
  to: string,
  edit: { json?: { file: string; edit: (c: Record<string, any>) => void }; tensors?: { file: string; edit: (t: Record<string, SafetensorsTensor>) => void } },
): string {
  fs.cpSync(from, to, { recursive: true });
  if (edit.json) {
    const file = path.join(to, edit.json.file);
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    edit.json.edit(c);
    fs.writeFileSync(file, JSON.stringify(c));
  }
  if (edit.tensors) {
    const file = path.join(to, edit.tensors.file);
    const t = readAllFloat32(file);
    edit.tensors.edit(t);
    fs.rmSync(file);
    writeSafetensors(file, t, { format: "pt" });
  }
  return to;
}
