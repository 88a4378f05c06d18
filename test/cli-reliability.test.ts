/**
 * Reliability of `ortrl train` outputs through the built binary: nothing a user has is destroyed
 * (--overwrite-output-dir moves an earlier run aside until the new one completes; an output dir that is
 * or contains the input model is refused), resume checks that the checkpoint belongs to this run and
 * can finish a run whose final save failed, interrupted runs' temporaries are cleaned, SIGTERM saves a
 * checkpoint and exits 143, and a full disk (injected ENOSPC) leaves earlier checkpoints intact with an
 * error naming the path.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, REPO_ROOT, SHARED, expectFailure, expectOk, interruptWhenLogged, ortrl } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const FAIL_WRITES = join(REPO_ROOT, "test/helpers/fail-writes.mjs");
let tmp = "";
let data = "";
let otherData = "";
const small = (d = data) => ["--model", MODEL, "--data", d, "--max-seq-length", "64", "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--logging-steps", "1"];
const train = (args: string[], env?: Record<string, string>): CliResult => ortrl(["train", "cpt", ...args], { timeoutMs: 60_000, env });
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
/** Writes that fail as on a full disk, for paths matching `pattern`. */
const diskFull = (pattern: string) => ({ NODE_OPTIONS: `--import ${FAIL_WRITES}`, ORTRL_FAIL_WRITES: pattern });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-reliability-"));
  const text = readFileSync(join(SHARED, "data/tinyshakespeare/input.txt"), "utf8");
  data = join(tmp, "train.txt");
  writeFileSync(data, text.slice(0, 20_000));
  otherData = join(tmp, "other.txt");
  writeFileSync(otherData, text.slice(20_000, 40_000));
});

describe("outputs: nothing is destroyed before its replacement is complete", () => {
  it("--overwrite-output-dir keeps the earlier run until the new one completes, and a failing new run leaves it intact", () => {
    const out = join(tmp, "overwrite");
    expectOk(train([...small(), "--output-dir", out, "--max-steps", "2", "--save-steps", "2"]));
    const model = sha(join(out, "model.safetensors"));
    const ckModel = sha(join(out, "checkpoint-2", "model.safetensors"));

    // A new run that diverges at step 2: the earlier run is moved aside, not deleted.
    const cfg = join(tmp, "diverge.yaml");
    writeFileSync(cfg, "optim: sgd\nmax_grad_norm: 0\nlr_scheduler_type: constant\n");
    const r = train(["--config", cfg, ...small(), "--learning-rate", "1e30", "--output-dir", out, "--max-steps", "4", "--save-steps", "10", "--overwrite-output-dir"]);
    expectFailure(r, /training stopped at step 2/);
    expect(r.stderr).toMatch(/warning: --overwrite-output-dir: the earlier run .* was moved to .*ortrl-previous-run-1; it is deleted when this run completes/);
    const aside = join(out, "ortrl-previous-run-1");
    expect(sha(join(aside, "model.safetensors"))).toBe(model);
    expect(sha(join(aside, "checkpoint-2", "model.safetensors"))).toBe(ckModel);
    expect(existsSync(join(aside, "config.json")) && existsSync(join(aside, "tokenizer.json"))).toBe(true); // a whole, loadable model

    // What was moved aside still counts as a run: a plain run is refused and deletes nothing.
    expectFailure(train([...small(), "--output-dir", out, "--max-steps", "2"]), /already holds a training run .*ortrl-previous-run-1/);
    expect(sha(join(aside, "model.safetensors"))).toBe(model);

    // A completed replacement removes what was moved aside.
    expectOk(train([...small(), "--output-dir", out, "--max-steps", "2", "--save-steps", "2", "--overwrite-output-dir"]));
    expect(readdirSync(out).filter((f) => f.startsWith("ortrl-previous-run"))).toEqual([]);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
  });

  it("a directory in use by a live run is refused untouched, even with --overwrite-output-dir", () => {
    const out = join(tmp, "in-use");
    expectOk(train([...small(), "--output-dir", out, "--max-steps", "2", "--save-steps", "2"]));
    writeFileSync(join(out, ".ortrl-lock"), `${process.pid}\n`); // this test process: alive
    const before = readdirSync(out).sort();
    const r = train([...small(), "--output-dir", out, "--max-steps", "2", "--overwrite-output-dir"]);
    expectFailure(r, /--output-dir .*in-use is in use by another run \(process \d+/);
    expect(r.status).toBe(2);
    expect(readdirSync(out).sort()).toEqual(before);
    rmSync(join(out, ".ortrl-lock"));
  });

  it("refuses an output dir that is, or contains, the input model", () => {
    const copy = join(tmp, "model-copy");
    cpSync(MODEL, copy, { recursive: true });
    const before = sha(join(copy, "model.safetensors"));
    const flags = ["--data", data, "--max-seq-length", "64", "--max-steps", "1"];
    expectFailure(train(["--model", copy, ...flags, "--output-dir", copy, "--overwrite-output-dir"]), /--output-dir .*model-copy is the input of --model/);
    expectFailure(train(["--model", copy, ...flags, "--output-dir", tmp]), /--output-dir .* contains the input of --model/);
    expect(sha(join(copy, "model.safetensors"))).toBe(before);
    expect(train(["--model", copy, ...flags, "--output-dir", copy]).status).toBe(2);
  });

  it("removes an interrupted run's temporaries at start and restores a checkpoint caught between two renames", () => {
    const out = join(tmp, "stale");
    expectOk(train([...small(), "--output-dir", out, "--max-steps", "2", "--save-steps", "1", "--save-total-limit", "5"]));
    // What kill -9 leaves: a half-written checkpoint, a half-written file, and a complete checkpoint
    // renamed to .old-PID before its replacement was renamed in. PID 2^22+1 is above Linux's pid_max.
    const dead = 4194305;
    mkdirSync(join(out, `checkpoint-3.tmp-${dead}`));
    writeFileSync(join(out, `checkpoint-3.tmp-${dead}`, "model.safetensors"), "partial");
    writeFileSync(join(out, `metrics.jsonl.tmp-${dead}`), "partial");
    cpSync(join(out, "checkpoint-2"), join(out, `checkpoint-2.old-${dead}`), { recursive: true });
    rmSync(join(out, "checkpoint-2"), { recursive: true });
    const r = train([...small(), "--output-dir", out, "--max-steps", "4", "--save-steps", "1", "--save-total-limit", "5", "--resume-from-checkpoint", join(out, "checkpoint-1"), "--accept-changed-args"]);
    expectOk(r);
    expect(r.stderr).toMatch(/warning: left over by an interrupted run: .*removed .*checkpoint-3\.tmp-4194305/);
    expect(r.stderr).toMatch(/warning: left over by an interrupted run: .*restored .*checkpoint-2 from checkpoint-2\.old-4194305/);
    expect(readdirSync(out).filter((f) => /\.(tmp|old)-/.test(f))).toEqual([]);
    expect(existsSync(join(out, "checkpoint-2", "trainer_state.json"))).toBe(true);
  });
});

describe("resume: a checkpoint must belong to this run", () => {
  it("refuses to resume into a directory that holds another run", () => {
    const a = join(tmp, "run-a");
    const b = join(tmp, "run-b");
    expectOk(train([...small(otherData), "--output-dir", a, "--max-steps", "2", "--save-steps", "2"]));
    expectOk(train([...small(), "--output-dir", b, "--max-steps", "2", "--save-steps", "2"]));
    const before = sha(join(a, "model.safetensors"));
    const r = train([...small(), "--output-dir", a, "--max-steps", "2", "--save-steps", "2", "--resume-from-checkpoint", join(b, "checkpoint-2")]);
    expectFailure(r, /--output-dir .*run-a already holds a training run .*--resume-from-checkpoint .*run-b\/checkpoint-2 is not one of its checkpoints/);
    expect(r.status).toBe(2);
    expect(sha(join(a, "model.safetensors"))).toBe(before);
  });

  it("refuses another model config; cuts metrics.jsonl back to the checkpoint; train_loss covers every step", () => {
    const full = join(tmp, "log-full");
    const uninterrupted = train([...small(), "--output-dir", full, "--max-steps", "4", "--save-steps", "2", "--save-total-limit", "2"]);
    expectOk(uninterrupted);
    const copy = join(tmp, "rope-model");
    cpSync(MODEL, copy, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    writeFileSync(join(copy, "config.json"), JSON.stringify({ ...cfg, rope_theta: 500000 }));
    const ck = join(full, "checkpoint-2");
    const args = ["--data", data, "--max-seq-length", "64", "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--logging-steps", "1", "--output-dir", full, "--max-steps", "4", "--save-steps", "2", "--save-total-limit", "2", "--resume-from-checkpoint", ck];
    expectFailure(train(["--model", copy, ...args]), /different run: the starting model differs/);
    // As after a kill -9 between logging steps 3-4 and checkpointing them, mid-way through a line.
    writeFileSync(join(full, "metrics.jsonl"), readFileSync(join(full, "metrics.jsonl"), "utf8") + '{"step":5,"loss":4.5');
    const resumed = train(["--model", MODEL, ...args]);
    expectOk(resumed);
    const steps = readFileSync(join(full, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(lastJson(resumed.stdout).train_loss).toBeCloseTo(lastJson(uninterrupted.stdout).train_loss, 10);
  });

  let out = "";
  const common = () => [...small(), "--output-dir", out, "--save-steps", "2"];
  beforeAll(() => {
    out = join(tmp, "fingerprint");
    expectOk(train([...common(), "--max-steps", "2"]));
  });
  const resume = (extra: string[], d = data) => train([...small(d), "--output-dir", out, "--save-steps", "2", "--max-steps", "4", "--resume-from-checkpoint", join(out, "checkpoint-2"), ...extra]);

  it("refuses other data or other math, listing every difference", () => {
    expectFailure(resume([], otherData), /checkpoint-2 was written by a different run: the training data differ/);
    expectFailure(resume(["--learning-rate", "2e-3", "--seed", "7"]), /different run: learning_rate 0\.001 -> 0\.002; max_steps 2 -> 4; seed 42 -> 7\. Resume with the checkpoint's/);
  });

  it("refuses changed cadence or run length unless --accept-changed-args, then resumes", () => {
    expectFailure(resume(["--logging-steps", "2"]), /different run: logging_steps 1 -> 2; max_steps 2 -> 4\. These only change .* pass --accept-changed-args/);
    const r = resume(["--logging-steps", "2", "--accept-changed-args"]);
    expectOk(r);
    expect(r.stderr).toMatch(/warning: resuming .*checkpoint-2 with changed arguments: logging_steps 1 -> 2; max_steps 2 -> 4/);
    expect(lastJson(r.stdout).global_step).toBe(4);
  });
});

describe("faults", () => {
  it("a full disk while writing a checkpoint leaves the earlier checkpoint intact and names the path", () => {
    const out = join(tmp, "enospc");
    const r = train([...small(), "--output-dir", out, "--max-steps", "4", "--save-steps", "2", "--save-total-limit", "1"], diskFull("checkpoint-4"));
    expectFailure(r, /cannot write .*checkpoint-4\/[\w.]+: no space left on device \(ENOSPC\); the last complete checkpoint is .*checkpoint-2: resume with --resume-from-checkpoint/);
    expect(existsSync(join(out, "checkpoint-2", "trainer_state.json"))).toBe(true);
    expect(readdirSync(out).filter((f) => /\.(tmp|old)-/.test(f))).toEqual([]);
  });

  it("a failed final save keeps the trained state as a checkpoint that --resume-from-checkpoint finishes", () => {
    const out = join(tmp, "final-save");
    // --save-steps 0: no checkpoint before the end; the final model.safetensors cannot be written.
    const r = train([...small(), "--output-dir", out, "--max-steps", "3", "--save-steps", "0"], diskFull("final-model\\.tmp"));
    expectFailure(r, /cannot write .*final-save\/config\.json: no space left on device \(ENOSPC\); the trained state of step 3 is in .*checkpoint-3: once the problem is fixed, --resume-from-checkpoint .* writes the final model/);
    expect(existsSync(join(out, "model.safetensors"))).toBe(false);
    const ck = join(out, "checkpoint-3");
    const fin = train([...small(), "--output-dir", out, "--max-steps", "3", "--save-steps", "0", "--resume-from-checkpoint", ck]);
    expectOk(fin);
    expect(fin.stderr).toMatch(/nothing left to train, writing the final model/);
    expect(sha(join(out, "model.safetensors"))).toBe(sha(join(ck, "model.safetensors")));
  });

  it("metrics.jsonl that cannot be written stops the run with one line naming it", () => {
    const out = join(tmp, "metrics-full");
    const r = train([...small(), "--output-dir", out, "--max-steps", "4", "--save-steps", "0"], diskFull("metrics\\.jsonl$"));
    expectFailure(r, /cannot write .*metrics\.jsonl: no space left on device \(ENOSPC\); training stopped after step 1 \(checkpoint .*checkpoint-1\)/);
    expect(r.status).toBe(1);
  });

  it("SIGTERM stops after the current step with a checkpoint and exits 143", async () => {
    const out = join(tmp, "sigterm");
    const args = ["train", "cpt", ...small(), "--max-seq-length", "256", "--output-dir", out, "--max-steps", "100000", "--save-steps", "0"];
    const { code, stdout, stderr } = await interruptWhenLogged(args, join(out, "metrics.jsonl"), "SIGTERM");
    expect(code, stderr).toBe(143);
    const step = lastJson(stdout).global_step as number;
    expect(stderr).toMatch(/SIGTERM: stopping after the current step/);
    expect(existsSync(join(out, `checkpoint-${step}`, "trainer_state.json"))).toBe(true);
    expect(readdirSync(out).filter((f) => /\.(tmp|old)-/.test(f))).toEqual([]);
  });
});
