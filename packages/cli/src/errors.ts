/**
 * CLI failure reporting: every error path ends here, as one line `ortrl: error: MESSAGE` on stderr
 * and a documented exit code:
 *   1   runtime failure (bad data or model, diverged training, file-system failure, ...)
 *   2   usage error (bad flags, options, config files, output directory choice, resuming a
 *       checkpoint with other settings)
 *   130 / 143  stopped by SIGINT (Ctrl-C) / SIGTERM (after saving a checkpoint; see train-common.ts)
 * Messages come from the library's errors, which name the file, line/record and field; a Node
 * file-system error that reaches here unwrapped is named by its path with the errno in words.
 * `ORTRL_DEBUG=1` adds the stack trace.
 */
import { describeErrno, isSystemError } from "@ortrl/core";

export class UsageError extends Error {
  override name = "UsageError";
}

const USAGE_ERRORS = new Set(["UsageError", "ConfigError", "OutputDirError", "ResumeMismatchError"]);

/** Exit code for an error (see the file comment). */
export function exitCodeOf(e: unknown): number {
  return e instanceof Error && USAGE_ERRORS.has(e.name) ? 2 : 1;
}

/** The error as one line: multi-line messages joined, raw system errors as "cannot <syscall> <path>: words (CODE)". */
export function errorLine(e: unknown): string {
  if (isSystemError(e) && e.message.startsWith(`${e.code}:`)) return `cannot ${e.syscall ?? "access"} ${e.path ?? "(unknown path)"}: ${describeErrno(e)}`;
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
}

export function reportAndExit(e: unknown): never {
  process.stderr.write(`ortrl: error: ${errorLine(e)}\n`);
  if (process.env.ORTRL_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(exitCodeOf(e));
}

/** Parses a numeric option, rejecting garbage with the flag's name. */
export function num(flag: string, integer = false, min?: number) {
  return (raw: string): number => {
    const v = Number(raw);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || (min !== undefined && v < min)) {
      throw new UsageError(`${flag} expects ${integer ? "an integer" : "a number"}${min !== undefined ? ` >= ${min}` : ""}, got '${raw}'`);
    }
    return v;
  };
}
