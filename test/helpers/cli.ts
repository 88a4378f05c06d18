/** Runs the built `ortrl` binary (packages/cli/bin/ortrl.js) and captures its output. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The shared fixtures folder (one definition, in @ortrl/core/testing; ORTRL_SHARED overrides it). */
export { SHARED_DIR as SHARED } from "@ortrl/core/testing";
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

/** A successful run: exit 0 and no `ortrl: error` line. */
export function expectOk(r: CliResult): void {
  expect(r.stderr.includes("ortrl: error"), r.stderr).toBe(false);
  expect(r.status, r.stderr).toBe(0);
}

/** A failed run: non-zero exit, exactly one stderr line `ortrl: error: ...` (warnings and training's `trainable params:` line aside) matching `pattern`. */
export function expectFailure(r: CliResult, pattern: RegExp): void {
  expect(r.status).not.toBe(0);
  const err = r.stderr.trim().split("\n").filter((l) => !l.startsWith("ortrl: warning") && !l.startsWith("trainable params: "));
  expect(err, r.stderr).toHaveLength(1);
  expect(err[0]).toMatch(/^ortrl: error: /);
  expect(err[0]).toMatch(pattern);
}

/**
 * Starts `ortrl ARGS`, sends `signal` once `watch` (e.g. OUT/metrics.jsonl) has more than `lines` lines
 * (training is under way), and resolves with the exit code and output.
 */
export async function interruptWhenLogged(args: string[], watch: string, signal: NodeJS.Signals, lines = 3): Promise<{ code: number | null } & Omit<CliResult, "status">> {
  const { spawn } = await import("node:child_process");
  const { existsSync, readFileSync } = await import("node:fs");
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const poll = setInterval(() => {
    if (existsSync(watch) && readFileSync(watch, "utf8").split("\n").length > lines) {
      clearInterval(poll);
      child.kill(signal);
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearInterval(poll);
  return { code, stdout, stderr };
}
