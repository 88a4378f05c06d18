/**
 * File-system failures as one-line errors that name the path and say the errno in words
 * ("cannot write out/checkpoint-4/model.safetensors: no space left on device (ENOSPC)"). Node's own
 * messages omit the path for descriptor-based calls ("ENOSPC: no space left on device, write") and
 * never explain the code, so every write site of ortrl wraps its calls with {@link withFsContext}.
 */

/** errno codes as words (POSIX descriptions, shortened). */
export const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ENOTDIR: "a path component is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ENOTEMPTY: "directory not empty",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EIO: "input/output error",
  EFBIG: "file too large",
  ENAMETOOLONG: "file name too long",
  EXDEV: "cross-device rename",
  EBUSY: "resource busy",
  ENOMEM: "out of memory",
};

/** A failed file-system call: `action path: words (CODE)`. `code` and `path` are kept for callers. */
export class FileSystemError extends Error {
  override name = "FileSystemError";
  constructor(
    readonly action: string,
    readonly path: string,
    readonly code: string | undefined,
    cause?: unknown,
  ) {
    super(`cannot ${action} ${path}: ${describeErrno(cause)}`, { cause });
  }
}

/** "no space left on device (ENOSPC)" for a Node system error; its message otherwise. */
export function describeErrno(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const code = err?.code;
  if (code && ERRNO_WORDS[code]) return `${ERRNO_WORDS[code]} (${code})`;
  if (code) return `${String(err?.message ?? code).replace(/^[A-Z]+: /, "").split(",")[0]} (${code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Whether `e` is a Node system error (it has an errno code such as ENOSPC). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return typeof (e as NodeJS.ErrnoException | undefined)?.code === "string" && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
}

/**
 * Runs `fn`; a Node system error it throws becomes a {@link FileSystemError} naming `action` and
 * `path` (an error that already is one, or is not a system error, passes unchanged).
 */
export function withFsContext<T>(action: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FileSystemError || !isSystemError(e)) throw e;
    throw new FileSystemError(action, path, e.code, e);
  }
}
