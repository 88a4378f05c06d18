/**
 * `--eval-on-start` through the built binary (run `npm run build` first): the starting model's evaluation
 * logged at step 0 with the same keys as the other evaluations, `--max-steps 0 --eval-on-start` (evaluate
 * only: metrics.jsonl, no model), the refusals (max_steps 0 alone, no eval data), a resumed run not
 * repeating it; and `--model ADAPTER_DIR` (a PEFT adapter directory) loading its base with the adapter,
 * or naming `--model BASE --adapter DIR` when its base is not a local directory.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const SHAKESPEARE = join(SHARED, "data/tinyshakespeare/input.txt");
const ALPACA = join(SHARED, "data/alpaca-en-demo/alpaca_en_demo.json");
let tmp = "";
let trainTxt = "";
let evalJsonl = "";
let alpacaSmall = "";
/** A small, fast CPT run (stories260K, 64-token blocks, 4 rows per step). */
const cpt = () => ["train", "cpt", "--model", MODEL, "--data", trainTxt, "--max-seq-length", "64", "--per-device-train-batch-size", "4"];
const run = (args: string[]): CliResult => ortrl(args, { timeoutMs: 120_000 });
const lines = (path: string): Record<string, number>[] => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const evals = (path: string) => lines(path).filter((l) => l.eval_loss !== undefined);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-eval-on-start-"));
  const text = readFileSync(SHAKESPEARE, "utf8");
  trainTxt = join(tmp, "train.txt");
  writeFileSync(trainTxt, text.slice(0, 8_000));
  const held = text.slice(20_000, 21_000).split("\n").filter((l) => l.trim()).slice(0, 8);
  evalJsonl = join(tmp, "eval.jsonl");
  writeFileSync(evalJsonl, held.map((t) => JSON.stringify({ text: t })).join("\n") + "\n");
  alpacaSmall = join(tmp, "alpaca.json");
  writeFileSync(alpacaSmall, JSON.stringify((JSON.parse(readFileSync(ALPACA, "utf8")) as unknown[]).slice(0, 16)));
});

describe("--eval-on-start", () => {
  it("cpt: logs the starting model's evaluation at step 0, with the keys and value of the trainer's own evaluation", () => {
    const out = join(tmp, "cpt-start");
    // Learning rate 0: the weights never change, so the final evaluation (step 1) is the untrained model's too.
    const r = run([...cpt(), "--eval-data", evalJsonl, "--output-dir", out, "--max-steps", "1", "--learning-rate", "0", "--eval-on-start", "--save-steps", "1"]);
    expectOk(r);
    const [start, end] = evals(join(out, "metrics.jsonl"));
    expect(start!.step).toBe(0);
    expect(Object.keys(start!).sort()).toEqual(Object.keys(end!).sort());
    expect(Object.keys(start!)).toEqual(expect.arrayContaining(["eval_loss", "perplexity", "eval_tokens", "eval_runtime"]));
    expect(end!.step).toBe(1);
    expect(start!.eval_loss).toBeCloseTo(end!.eval_loss!, 6);
    expect(start!.eval_tokens).toBe(end!.eval_tokens);
    expect(JSON.parse(readFileSync(join(out, "checkpoint-1", "trainer_state.json"), "utf8")).log_history[0]).toMatchObject({ step: 0, epoch: 0, eval_loss: start!.eval_loss });
  });

  it("sft (completion-only loss, --eval-holdout): the step-0 eval_loss is the untrained model's", () => {
    const out = join(tmp, "sft-start");
    const r = run(["train", "sft", "--model", MODEL, "--data", alpacaSmall, "--eval-holdout", "0.25", "--max-seq-length", "256", "--per-device-train-batch-size", "2", "--output-dir", out, "--max-steps", "1", "--learning-rate", "0", "--eval-on-start", "--save-steps", "0"]);
    expectOk(r);
    const [start, end] = evals(join(out, "metrics.jsonl"));
    expect([start!.step, end!.step]).toEqual([0, 1]);
    expect(start!.eval_loss).toBeCloseTo(end!.eval_loss!, 6);
  });

  it("--max-steps 0 --eval-on-start evaluates only: metrics.jsonl and the result line, no model, no checkpoint", () => {
    const out = join(tmp, "eval-only");
    const r = run([...cpt(), "--eval-data", evalJsonl, "--output-dir", out, "--max-steps", "0", "--eval-on-start"]);
    expectOk(r);
    const result = lastJson(r.stdout);
    expect(result.global_step).toBe(0);
    expect(Number.isFinite(result.eval_loss)).toBe(true);
    const logged = lines(join(out, "metrics.jsonl"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ step: 0, eval_loss: result.eval_loss });
    expect(readdirSync(out).filter((f) => f !== "metrics.jsonl" && !f.startsWith("."))).toEqual([]);
  });

  it("an evaluate-only run cannot replace (and so delete) an earlier run with --overwrite-output-dir", () => {
    const out = join(tmp, "eval-only");
    const before = readdirSync(out).sort();
    const r = run([...cpt(), "--eval-data", evalJsonl, "--output-dir", out, "--max-steps", "0", "--eval-on-start", "--overwrite-output-dir"]);
    expectFailure(r, /--overwrite-output-dir with --max-steps 0: an evaluate-only run writes no model/);
    expect(r.status).toBe(2);
    expect(readdirSync(out).sort()).toEqual(before);
  });

  it("--max-steps 0 alone is refused, naming both flags", () => {
    const out = join(tmp, "zero");
    expectFailure(run([...cpt(), "--eval-data", evalJsonl, "--output-dir", out, "--max-steps", "0"]), /--max-steps must be a positive integer or -1, or 0 together with --eval-on-start/);
    expect(existsSync(join(out, "metrics.jsonl"))).toBe(false);
  });

  it("--eval-on-start without evaluation data is refused, naming the flag", () => {
    expectFailure(run([...cpt(), "--output-dir", join(tmp, "no-eval"), "--max-steps", "1", "--eval-on-start"]), /--eval-on-start needs evaluation data \(--eval-data or --eval-holdout\)/);
  });

  it("a resumed run does not repeat the step-0 evaluation", () => {
    const out = join(tmp, "resume");
    const base = [...cpt(), "--eval-data", evalJsonl, "--output-dir", out, "--learning-rate", "1e-3", "--eval-on-start", "--save-steps", "2", "--eval-steps", "2"];
    expectOk(run([...base, "--max-steps", "2"]));
    expectOk(run([...base, "--max-steps", "4", "--resume-from-checkpoint", join(out, "checkpoint-2"), "--accept-changed-args"]));
    expect(evals(join(out, "metrics.jsonl")).map((l) => l.step)).toEqual([0, 2, 4]);
    const history = JSON.parse(readFileSync(join(out, "checkpoint-4", "trainer_state.json"), "utf8")).log_history as { step: number; eval_loss?: number }[];
    expect(history.filter((h) => h.eval_loss !== undefined).map((h) => h.step)).toEqual([0, 2, 4]);
  });
});

describe("--model ADAPTER_DIR", () => {
  let adapter = "";
  beforeAll(() => {
    adapter = join(tmp, "adapter");
    expectOk(run(["train", "sft", "--model", MODEL, "--data", alpacaSmall, "--lora-r", "4", "--max-seq-length", "256", "--per-device-train-batch-size", "2", "--learning-rate", "1e-2", "--output-dir", adapter, "--max-steps", "2", "--save-steps", "0"]));
    expect(existsSync(join(adapter, "adapter_config.json"))).toBe(true);
  });
  const gen = ["generate", "--prompt", "Once", "--max-new-tokens", "8", "--temperature", "0"];

  it("generate loads the base model named by adapter_config.json with the adapter, and says so in one line", () => {
    const redirected = run([...gen, "--model", adapter]);
    expectOk(redirected);
    const notes = redirected.stderr.split("\n").filter((l) => l.includes("is a PEFT adapter"));
    expect(notes).toEqual([`ortrl: --model ${adapter} is a PEFT adapter: loading its base model ${MODEL} with --adapter ${adapter}`]);
    const explicit = run([...gen, "--model", MODEL, "--adapter", adapter]);
    expectOk(explicit);
    expect(redirected.stdout).toBe(explicit.stdout);
  });

  it("an adapter whose base is not a local directory: an error naming the adapter and --model BASE --adapter DIR", () => {
    const hub = join(tmp, "hub-adapter");
    cpSync(adapter, hub, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(hub, "adapter_config.json"), "utf8"));
    writeFileSync(join(hub, "adapter_config.json"), JSON.stringify({ ...cfg, base_model_name_or_path: "someone/not-a-local-model" }));
    const pattern = new RegExp(`${hub.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is a PEFT adapter directory .*"someone/not-a-local-model" is not a local model directory: pass the base model and the adapter, --model BASE --adapter `);
    expectFailure(run([...gen, "--model", hub]), pattern);
    expectFailure(run(["export", "gguf", "--model", hub, "--output", join(tmp, "x.gguf")]), pattern);
  });
});
