/**
 * Atomic file-system writes: data goes to a temporary sibling first and is renamed into place, so a
 * crash never leaves a half-written file or directory. Temporaries are named `<target>.tmp-<pid>`
 * (and a replaced directory `<target>.old-<pid>` for the instant between two renames), so that
 * {@link removeStaleTemporaries} can tell a dead process's leftovers from a live one's.
 * Failures are {@link FileSystemError}s naming the path (errno in words).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { FileSystemError, withFsContext } from "./fs-errors.js";

/** Bytes per write call (writeSync cannot take more than 2 GiB at once). */
const IO_CHUNK_BYTES = 1 << 30;

/** Writes all of `data` at the descriptor's position (writeSync may write less than asked). */
export function writeFully(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.byteLength; ) off += writeSync(fd, data, off, Math.min(IO_CHUNK_BYTES, data.byteLength - off));
}

/**
 * Writes `data` to `path` via `path.tmp-<pid>` + fsync + rename.
 * @throws FileSystemError naming `path` (no space, read-only, permission, ...); `path` is untouched.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  withFsContext("create directory", dirname(path), () => mkdirSync(dirname(path), { recursive: true }));
  const tmp = `${path}.tmp-${process.pid}`;
  withFsContext("write", path, () => {
    try {
      const fd = openSync(tmp, "w");
      try {
        writeFully(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      removeQuietly(tmp);
      throw e;
    }
  });
}

/** Writes JSON (2-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Builds a directory atomically: `fill(tmpDir)` writes into a fresh temporary directory beside
 * `dir`, which is then renamed to `dir` (an existing `dir` is replaced only after `fill` succeeded).
 * @throws whatever `fill` throws (FileSystemError for file-system failures); the temporary directory
 *   is removed and `dir` is untouched.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  removeQuietly(tmp);
  withFsContext("create directory", dir, () => mkdirSync(tmp, { recursive: true }));
  try {
    try {
      await fill(tmp);
    } catch (e) {
      throw renamePath(e, tmp, dir);
    }
    if (existsSync(dir)) {
      const old = `${dir}.old-${process.pid}`;
      withFsContext("replace", dir, () => {
        renameSync(dir, old);
        renameSync(tmp, dir);
      });
      removeQuietly(old);
    } else {
      withFsContext("create", dir, () => renameSync(tmp, dir));
    }
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/** rm -rf that never throws: cleanup must not hide the error that made it necessary. */
export function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // left for removeStaleTemporaries
  }
}

/** A FileSystemError about a file under `from` re-aimed at the same file under `to` (the name the user will look for). */
export function renamePath(e: unknown, from: string, to: string): unknown {
  if (e instanceof FileSystemError && (e.path === from || e.path.startsWith(from + sep))) return new FileSystemError(e.action, to + e.path.slice(from.length), e.code, e.cause);
  return e;
}

/** `<name>.tmp-PID`, `<name>.old-PID`, `<name>.del-PID`. */
const TEMPORARY = /^(.+)\.(tmp|old|del)-(\d+)$/;

/** Whether process `pid` is alive (signal 0 probes without sending anything); false for this process. */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // nothing of ours is in flight when a run starts
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Cleans what an interrupted ortrl process left in `dir` (one level; only names X that `isOurs`
 * accepts, so a user's `notes.tmp-2024` is never touched): `X.tmp-PID` (a half-written file or
 * directory) and `X.del-PID` (a directory being deleted) are removed; `X.old-PID` (a complete directory caught between the two renames of
 * {@link writeDirAtomic}) is renamed back to `X` when `X` is missing, removed otherwise. Entries of
 * live processes are left alone.
 * @returns what was done, one line per entry (for a warning).
 */
export function removeStaleTemporaries(dir: string, isOurs: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const done: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = TEMPORARY.exec(name);
    if (!m || !isOurs(m[1]!) || isAlive(Number(m[3]))) continue;
    const path = join(dir, name);
    const target = join(dir, m[1]!);
    if (m[2] === "old" && !existsSync(target)) {
      withFsContext("restore", target, () => renameSync(path, target));
      done.push(`restored ${target} from ${name}`);
    } else {
      withFsContext("remove", path, () => rmSync(path, { recursive: true, force: true }));
      done.push(`removed ${path}`);
    }
  }
  return done;
}
