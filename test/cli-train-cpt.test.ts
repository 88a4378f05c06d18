/**
 * `ortrl train cpt` end to end through the built binary (run `npm run build` first): a short real run
 * and what it writes, --config files and their errors, bad input leaving earlier checkpoints alone,
 * resuming from a checkpoint, and a diverging run stopping with the last good checkpoint kept.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "@ortrl/core";
import { type CliResult, SHARED, ortrl } from "./helpers/cli.js";
import { expectFailure, expectOk, interruptWhenLogged } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const SHAKESPEARE = join(SHARED, "data/tinyshakespeare/input.txt");
let tmp = "";
let trainTxt = "";
let evalJsonl = "";
/** Flags of a small, fast run (stories260K, 64-token blocks, 4 rows per step). */
const small = () => ["--model", MODEL, "--data", trainTxt, "--max-seq-length", "64", "--per-device-train-batch-size", "4", "--learning-rate", "1e-3"];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-cpt-"));
  const text = readFileSync(SHAKESPEARE, "utf8");
  trainTxt = join(tmp, "train.txt");
  writeFileSync(trainTxt, text.slice(0, 20_000));
  // Held-out: the next few non-empty lines, one JSONL record each.
  const held = text.slice(20_000, 21_000).split("\n").filter((l) => l.trim()).slice(0, 12);
  evalJsonl = join(tmp, "eval.jsonl");
  writeFileSync(evalJsonl, held.map((t) => JSON.stringify({ text: t })).join("\n") + "\n");
});

const train = (args: string[]): CliResult => ortrl(["train", "cpt", ...args], { timeoutMs: 60_000 });
const lines = (path: string): Record<string, number>[] => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const state = (ckpt: string) => JSON.parse(readFileSync(join(ckpt, "trainer_state.json"), "utf8"));
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const ok = expectOk;
const failsWith = expectFailure;

describe("ortrl train cpt: a short run", () => {
  it("--generate-every 2 --generate-prompts: samples.jsonl at steps 0 (before training), 2 and 4, a line per prompt on stderr; TRL keys in the result line", () => {
    const out = join(tmp, "samples");
    const prompts = join(tmp, "prompts.txt");
    writeFileSync(prompts, "First Citizen:\nAll:\n");
    const r = train([...small(), "--output-dir", out, "--max-steps", "4", "--save-steps", "0", "--logging-steps", "1", "--generate-every", "2", "--generate-prompts", prompts, "--generate-max-new-tokens", "12"]);
    ok(r);
    const samples = readFileSync(join(out, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; prompt: string; completion: string });
    expect(samples.map((x) => [x.step, x.prompt])).toEqual([[0, "First Citizen:"], [0, "All:"], [2, "First Citizen:"], [2, "All:"], [4, "First Citizen:"], [4, "All:"]]);
    for (const x of samples) expect(x.completion.length).toBeGreaterThan(0);
    expect(r.stderr.match(/^step [024] sample: "(First Citizen|All):" -> ".+"$/gm)).toHaveLength(6);
    const result = lastJson(r.stdout);
    expect(Object.keys(result)).toEqual(["global_step", "train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second", "num_tokens", "epoch", "output_dir"]);
    expect(result.num_tokens).toBe(lines(join(out, "metrics.jsonl")).at(-1)!.num_tokens);
  });
  it("writes metrics.jsonl, checkpoint-4 and the final model; stdout ends with the result JSON", () => {
    const out = join(tmp, "run");
    const r = train([...small(), "--eval-data", evalJsonl, "--output-dir", out, "--max-steps", "8", "--save-steps", "4", "--logging-steps", "2"]);
    ok(r);
    const result = lastJson(r.stdout);
    expect(result.global_step).toBe(8);
    expect(result.output_dir).toBe(out);
    expect(Number.isFinite(result.train_loss)).toBe(true);

    const metrics = lines(join(out, "metrics.jsonl"));
    const logs = metrics.filter((m) => "loss" in m);
    const evals = metrics.filter((m) => "eval_loss" in m);
    expect(logs.length + evals.length).toBe(metrics.length);
    expect(logs.map((m) => m.step)).toEqual([2, 4, 6, 8]);
    for (const m of logs) {
      expect(Object.keys(m).sort()).toEqual(["epoch", "grad_norm", "learning_rate", "loss", "num_tokens", "step", "train_tokens_per_second"]);
      for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
      expect(m.num_tokens).toBe(m.step! * 4 * 64); // packed 64-token blocks, 4 per step
    }
    expect(logs.at(-1)!.loss).toBeLessThan(logs[0]!.loss!); // it learns
    expect(evals.map((m) => m.step)).toEqual([8]); // no --eval-steps: evaluated at the end only
    const ev = evals[0]!;
    expect(ev.perplexity).toBeCloseTo(Math.exp(ev.eval_loss!), 8);
    expect(ev.eval_tokens).toBeGreaterThan(0);
    expect(result.eval_loss).toBe(ev.eval_loss);

    const ck = join(out, "checkpoint-4");
    for (const f of ["model.safetensors", "optimizer.safetensors", "trainer_state.json", "config.json", "tokenizer.json"]) expect(existsSync(join(ck, f)), f).toBe(true);
    const st = state(ck);
    expect(st.global_step).toBe(4);
    expect(st.max_steps).toBe(8);
    expect(st.log_history.map((h: { step: number }) => h.step)).toEqual([2, 4]);
    // The final model is a loadable HF directory holding the trained weights: `ortrl eval` on the
    // held-out records (BOS + text, each shorter than 64 tokens) reproduces the run's final eval_loss.
    for (const f of ["model.safetensors", "config.json", "tokenizer.json"]) expect(existsSync(join(out, f)), f).toBe(true);
    expect(sha(join(out, "model.safetensors"))).not.toBe(sha(join(MODEL, "model.safetensors")));
    const e = ortrl(["eval", "--model", out, "--data", evalJsonl]);
    expect(e.status, e.stderr).toBe(0);
    const scored = JSON.parse(e.stdout);
    expect(scored.tokens).toBe(ev.eval_tokens);
    expect(Math.abs(scored.loss - ev.eval_loss!)).toBeLessThan(1e-4);
  });
});

describe("ortrl train cpt --config", () => {
  const writeConfig = (name: string, text: string) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };

  it("reads snake_case keys from YAML, and flags override the file", () => {
    const cfg = writeConfig(
      "cpt.yaml",
      [`model: ${JSON.stringify(MODEL)}`, `data: ${JSON.stringify(trainTxt)}`, "learning_rate: 0.002", "max_steps: 2", "lr_scheduler_type: constant",
        "logging_steps: 1", "save_steps: 2", "max_seq_length: 32", "per_device_train_batch_size: 2"].join("\n") + "\n",
    );
    const a = join(tmp, "cfg-a");
    ok(train(["--config", cfg, "--output-dir", a]));
    const la = lines(join(a, "metrics.jsonl"));
    expect(la.map((m) => m.step)).toEqual([1, 2]);
    expect(la.map((m) => m.learning_rate)).toEqual([0.002, 0.002]);
    expect(la[0]!.num_tokens).toBe(2 * 32);
    const sa = state(join(a, "checkpoint-2"));
    expect([sa.global_step, sa.max_steps, sa.logging_steps, sa.train_batch_size]).toEqual([2, 2, 1, 2]);

    const b = join(tmp, "cfg-b");
    const rb = train(["--config", cfg, "--output-dir", b, "--learning-rate", "0.0005", "--max-steps", "3", "--save-steps", "3"]);
    ok(rb);
    expect(lastJson(rb.stdout).global_step).toBe(3);
    const lb = lines(join(b, "metrics.jsonl"));
    expect(lb.map((m) => m.learning_rate)).toEqual([0.0005, 0.0005, 0.0005]);
    expect(state(join(b, "checkpoint-3")).max_steps).toBe(3);
  });

  it("rejects an unknown key or a wrong type with one line naming the file and the key", () => {
    const unknown = writeConfig("unknown.yaml", "max_steps: 2\nlearning_rat: 0.001\n");
    failsWith(train([...small(), "--output-dir", join(tmp, "never"), "--config", unknown]), /unknown\.yaml: key 'learning_rat'/);
    const wrongType = writeConfig("wrong-type.yaml", 'max_steps: "eight"\n');
    failsWith(train([...small(), "--output-dir", join(tmp, "never"), "--config", wrongType]), /wrong-type\.yaml: key 'max_steps'.*number/);
    const notInt = writeConfig("not-int.json", JSON.stringify({ per_device_train_batch_size: 2.5 }));
    failsWith(train([...small(), "--output-dir", join(tmp, "never"), "--config", notInt]), /not-int\.json: key 'per_device_train_batch_size'/);
    const badValue = writeConfig("bad-value.yaml", "warmup_ratio: 1.5\n");
    failsWith(train([...small(), "--output-dir", join(tmp, "never"), "--config", badValue]), /bad-value\.yaml: key 'warmup_ratio' must be in \[0, 1\), got 1\.5/);
    failsWith(train([...small(), "--output-dir", join(tmp, "never"), "--config", join(tmp, "absent.yaml")]), /absent\.yaml: file not found/);
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });

  it("requires --model and --output-dir", () => {
    const noModel = train(["--data", trainTxt, "--output-dir", join(tmp, "never")]);
    failsWith(noModel, /--model is required/);
    const noOutput = train(["--model", MODEL, "--data", trainTxt]);
    failsWith(noOutput, /--output-dir is required/);
    expect([noModel.status, noOutput.status]).toEqual([2, 2]); // usage errors
    failsWith(train(["--model", MODEL, "--output-dir", join(tmp, "never")]), /--data must list at least one training file/);
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });
});

describe("ortrl train cpt: bad input", () => {
  it("fails with one line naming the file (and line) and leaves an earlier run's output alone", () => {
    const out = join(tmp, "bad-input");
    ok(train([...small(), "--output-dir", out, "--max-steps", "2", "--save-steps", "2"]));
    const ck = join(out, "checkpoint-2");
    const before = {
      files: readdirSync(out).sort(),
      ckFiles: readdirSync(ck).sort(),
      ckModel: sha(join(ck, "model.safetensors")),
      model: sha(join(out, "model.safetensors")),
      metrics: readFileSync(join(out, "metrics.jsonl"), "utf8"),
    };
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"text": "First Citizen: speak."}\n{"text": oops}\n');
    const notext = join(tmp, "notext.jsonl");
    writeFileSync(notext, '{"text": "First Citizen: speak."}\n\n{"prompt": "x"}\n');
    const flags = ["--model", MODEL, "--output-dir", out, "--max-steps", "2", "--save-steps", "1", "--max-seq-length", "64"];
    failsWith(train([...flags, "--data", join(tmp, "nope.txt")]), /nope\.txt: file not found/);
    failsWith(train([...flags, "--data", bad]), /bad\.jsonl:2: invalid JSON/);
    failsWith(train([...flags, "--data", notext]), /notext\.jsonl:3: record has no 'text' field/);
    failsWith(train([...flags, "--data", trainTxt, "--eval-data", bad]), /bad\.jsonl:2: invalid JSON/);
    failsWith(train([...flags, "--data", trainTxt, "--resume-from-checkpoint", join(out, "checkpoint-9")]), /checkpoint-9 does not exist/);
    failsWith(train([...flags, "--data", trainTxt]), /already holds a training run.*--overwrite-output-dir/);

    expect(readdirSync(out).sort()).toEqual(before.files);
    expect(readdirSync(ck).sort()).toEqual(before.ckFiles);
    expect(sha(join(ck, "model.safetensors"))).toBe(before.ckModel);
    expect(sha(join(out, "model.safetensors"))).toBe(before.model);
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8")).toBe(before.metrics);
  });
});

describe("ortrl train cpt --resume-from-checkpoint", () => {
  it("continues from checkpoint-4 to step 8 and appends to metrics.jsonl", () => {
    const out = join(tmp, "resume");
    const common = [...small(), "--output-dir", out, "--save-steps", "4", "--logging-steps", "2"];
    const first = train([...common, "--max-steps", "4"]);
    ok(first);
    expect(lastJson(first.stdout).global_step).toBe(4);
    expect(lines(join(out, "metrics.jsonl")).map((m) => m.step)).toEqual([2, 4]);

    // A longer run than the checkpoint's is a deliberate change of max_steps.
    const second = train([...common, "--max-steps", "8", "--resume-from-checkpoint", join(out, "checkpoint-4"), "--accept-changed-args"]);
    ok(second);
    expect(lastJson(second.stdout).global_step).toBe(8);
    const metrics = lines(join(out, "metrics.jsonl"));
    expect(metrics.map((m) => m.step)).toEqual([2, 4, 6, 8]);
    // Tokens seen continue from the checkpoint rather than restarting at 0.
    expect(metrics.map((m) => m.num_tokens)).toEqual([2, 4, 6, 8].map((s) => s * 4 * 64));
    const st = state(join(out, "checkpoint-8"));
    expect(st.global_step).toBe(8);
    expect(st.num_input_tokens_seen).toBe(8 * 4 * 64);
    expect(st.log_history.map((h: { step: number }) => h.step)).toEqual([2, 4, 6, 8]);
    expect(state(join(out, "checkpoint-4")).global_step).toBe(4);
  });
});

describe("ortrl train cpt: divergence", () => {
  it("stops on a non-finite loss or gradient, exits non-zero and keeps the last good checkpoint", () => {
    const out = join(tmp, "diverge");
    const cfg = join(tmp, "diverge.yaml");
    writeFileSync(cfg, "optim: sgd\nmax_grad_norm: 0\nlr_scheduler_type: constant\n");
    const r = train(["--config", cfg, "--model", MODEL, "--data", trainTxt, "--output-dir", out, "--learning-rate", "1e30", "--max-steps", "4",
      "--save-steps", "1", "--logging-steps", "1", "--max-seq-length", "64", "--per-device-train-batch-size", "4"]);
    failsWith(r, /training stopped at step 2: (loss|gradient norm) is (NaN|-?Infinity).*Last good checkpoint: .*checkpoint-1\b/);
    expect(r.stdout.trim()).toBe(""); // no result line
    const ck = join(out, "checkpoint-1");
    for (const f of ["model.safetensors", "optimizer.safetensors", "trainer_state.json"]) expect(existsSync(join(ck, f)), f).toBe(true);
    expect(state(ck).global_step).toBe(1);
    const st = SafetensorsFile.open(join(ck, "model.safetensors"));
    try {
      for (const n of st.tensorNames) expect(st.readFloat32(n).every(Number.isFinite), n).toBe(true);
    } finally {
      st.close();
    }
    expect(existsSync(join(out, "checkpoint-2"))).toBe(false);
    expect(existsSync(join(out, "model.safetensors"))).toBe(false); // no final model from a diverged run
    expect(lines(join(out, "metrics.jsonl")).map((m) => m.step)).toEqual([1]);
  });
});

describe("ortrl train cpt: defaults and interruption", () => {
  it("caps the default max_seq_length (1024) at the model's context (512) and stops on SIGINT with a checkpoint", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "ortrl-sigint-")), "run");
    const args = ["train", "cpt", "--model", MODEL, "--data", join(SHARED, "data/tinyshakespeare/input.txt"), "--output-dir", out, "--max-steps", "1000", "--per-device-train-batch-size", "1", "--logging-steps", "1"];
    const { code, stdout, stderr } = await interruptWhenLogged(args, join(out, "metrics.jsonl"), "SIGINT");
    expect(code).toBe(130);
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(result.interrupted).toBe(true);
    expect(stderr).toMatch(new RegExp(`interrupted after step ${result.global_step}; .*--resume-from-checkpoint .*checkpoint-${result.global_step}`));
    expect(existsSync(join(out, `checkpoint-${result.global_step}`, "trainer_state.json"))).toBe(true);
  });
});
