/** Runs the built `ortrl` binary (packages/cli/bin/ortrl.js) and captures its output. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SHARED = process.env.ORTRL_SHARED ?? fileURLToPath(new URL("../../../shared/", import.meta.url));
const BIN = fileURLToPath(new URL("../../packages/cli/bin/ortrl.js", import.meta.url));

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function ortrl(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 600_000,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
