/**
 * CLI failure reporting: one line `ortrl: error: MESSAGE` on stderr and a non-zero exit code.
 * Messages come from the library's errors, which name the file, line/record and field.
 */
export class UsageError extends Error {
  override name = "UsageError";
}

export function reportAndExit(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`ortrl: error: ${msg.split("\n")[0]}\n`);
  if (process.env.ORTRL_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  // Usage errors (bad flags, options and config files) exit 2, as commander's own.
  process.exit(e instanceof UsageError || (e instanceof Error && e.name === "ConfigError") ? 2 : 1);
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
