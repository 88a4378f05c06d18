/**
 * Kill-and-resume soak: a small CPT run (a checkpoint every step, rotation keeping two) is killed at
 * random moments — during start-up, training steps, checkpoint writes and rotation, and the final save
 * — and resumed from its newest complete checkpoint each time (started afresh with
 * --overwrite-output-dir while it has none). It must end bit-identical to the uninterrupted run, with
 * no temporaries or moved-aside runs left. Once with SIGKILL (nothing can be saved), once with SIGTERM
 * (the run saves a checkpoint and exits 143).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, SHARED, expectOk, ortrl } from "../helpers/cli.js";

const BIN = join(REPO_ROOT, "packages/cli/bin/ortrl.js");
const MODEL = join(SHARED, "models/stories260K-hf");
let tmp = "";
let data = "";
const flags = (out: string) => ["train", "cpt", "--model", MODEL, "--data", data, "--output-dir", out, "--max-seq-length", "128", "--per-device-train-batch-size", "4",
  "--learning-rate", "1e-3", "--max-steps", "60", "--save-steps", "1", "--save-total-limit", "2", "--logging-steps", "4"];
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Newest checkpoint with a trainer_state.json (what a user would resume from). */
function newestCheckpoint(out: string): string | null {
  if (!existsSync(out)) return null;
  const steps = readdirSync(out)
    .map((f) => /^checkpoint-(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(out, m[0], "trainer_state.json")))
    .map((m) => Number(m[1]));
  return steps.length ? join(out, `checkpoint-${Math.max(...steps)}`) : null;
}

/** Step of a checkpoint path (0 for none). */
const stepOf = (ck: string | null) => (ck ? Number(/checkpoint-(\d+)$/.exec(ck)![1]) : 0);

/**
 * Starts the run (or resumes it) and sends `signal` `delayMs` after its first new checkpoint appears
 * (so that the moment falls in training, not start-up), unless it ended first. Resolves with the exit
 * code (null = killed by the signal).
 */
function attempt(out: string, signal: NodeJS.Signals, delayMs: number | null): Promise<{ code: number | null; stderr: string }> {
  const ck = newestCheckpoint(out);
  const args = [...flags(out), ...(ck ? ["--resume-from-checkpoint", ck] : ["--overwrite-output-dir"])];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    if (delayMs === null || stepOf(newestCheckpoint(out)) <= stepOf(ck)) return;
    clearInterval(poll);
    timer = setTimeout(() => child.kill(signal), delayMs);
  }, 5);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

/** Seeded uniform delays in [0, 1.5 s), so a failure can be replayed in the same order. */
function delays(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 1500;
  };
}

let reference = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-soak-"));
  data = join(tmp, "train.txt");
  writeFileSync(data, readFileSync(join(SHARED, "data/tinyshakespeare/input.txt"), "utf8").slice(0, 20_000));
  const out = join(tmp, "uninterrupted");
  expectOk(ortrl(flags(out), { timeoutMs: 120_000 }));
  reference = sha(join(out, "model.safetensors"));
});

describe.each([
  ["SIGKILL", 11],
  ["SIGTERM", 23],
] as const)("killed with %s at random moments and resumed", (signal, seed) => {
  it("ends bit-identical to the uninterrupted run", async () => {
    const out = join(tmp, signal);
    const next = delays(seed);
    const log: string[] = [];
    let interruptions = 0;
    // Six signals at random moments, then a run left to finish.
    for (let i = 0; i < 7; i++) {
      const delay = i < 6 ? next() : null;
      const r = await attempt(out, signal, delay);
      log.push(`attempt ${i}: ${delay === null ? "no signal" : `${Math.round(delay)} ms after a checkpoint`} -> ${r.code ?? signal} (newest checkpoint ${newestCheckpoint(out) ?? "none"})`);
      if (r.code === 0) break;
      // Interrupted: by the signal itself (SIGKILL, or SIGTERM before the handler), or SIGTERM's checkpoint-and-exit.
      expect(r.code === null || r.code === 143, `${log.join("\n")}\n${r.stderr}`).toBe(true);
      if (signal === "SIGTERM" && r.code === 143) expect(r.stderr).toMatch(/SIGTERM: stopping after the current step/);
      interruptions++;
    }
    console.log(`${signal} soak:\n${log.join("\n")}`);
    expect(interruptions, log.join("\n")).toBeGreaterThanOrEqual(3);
    expect(existsSync(join(out, "model.safetensors")), log.join("\n")).toBe(true);
    expect(sha(join(out, "model.safetensors")), log.join("\n")).toBe(reference);
    expect(readdirSync(out).filter((f) => /\.(tmp|old|del)-\d+$/.test(f) || f.startsWith("ortrl-previous-run"))).toEqual([]);
  }, 600_000);
});
