/**
 * `ortrl train dpo` end to end through the built binary: LLaMA-Factory's ShareGPT ranking data
 * (dpo-en-demo, first 64 pairs) with LoRA, hh-rlhf read straight from .jsonl.gz with implicit prompts
 * and precomputed reference log-probs, a config file with DPO keys, and bad input as one error line.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, SHARED, ortrl } from "./helpers/cli.js";
import { expectFailure, expectOk } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const DEMO = join(SHARED, "data/dpo-en-demo/dpo_en_demo.json");
const HH = join(SHARED, "data/hh-rlhf-harmless-base-test/test.jsonl.gz");
const DPO_KEYS = ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected"];
let tmp = "";
let demo64 = "";
let template = "";

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-dpo-"));
  demo64 = join(tmp, "demo64.json");
  writeFileSync(demo64, JSON.stringify(JSON.parse(readFileSync(DEMO, "utf8")).slice(0, 64)));
  template = join(tmp, "chat.jinja");
  writeFileSync(template, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
});

const train = (args: string[]): CliResult => ortrl(["train", "dpo", ...args], { timeoutMs: 120_000 });
const lines = (path: string): Record<string, number>[] => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const ok = expectOk;
const failsWith = expectFailure;

describe("ortrl train dpo", () => {
  it("trains a LoRA adapter on dpo-en-demo (ShareGPT ranking, chat template) and logs TRL's keys", () => {
    const out = join(tmp, "demo");
    const r = train(["--model", MODEL, "--data", demo64, "--chat-template", template, "--output-dir", out, "--max-steps", "4", "--logging-steps", "1",
      "--lora-r", "8", "--target-modules", "all-linear", "--max-length", "256", "--max-prompt-length", "128", "--per-device-train-batch-size", "4", "--learning-rate", "5e-4", "--eval-holdout", "0.125"]);
    ok(r);
    expect(r.stderr).toMatch(/truncated \d+ of 56 training pairs to maxLength 256, maxPromptLength 128/);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(result.global_step).toBe(4);
    const metrics = lines(join(out, "metrics.jsonl"));
    const trainLogs = metrics.filter((m) => "loss" in m);
    expect(trainLogs.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(Math.abs(trainLogs[0]!.loss! - Math.LN2)).toBeLessThan(1e-5);
    for (const m of trainLogs) for (const k of DPO_KEYS) expect(Number.isFinite(m[k]), k).toBe(true);
    const ev = metrics.find((m) => "eval_loss" in m)!;
    for (const k of DPO_KEYS) expect(Number.isFinite(ev[`eval_${k}`]), k).toBe(true);
    expect(result["eval_rewards/accuracies"]).toBe(ev["eval_rewards/accuracies"]);
    expect(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"))).toMatchObject({ peft_type: "LORA", r: 8, target_modules: "all-linear" });
  });

  it("reads hh-rlhf from .jsonl.gz (implicit prompts), full fine-tuning with precomputed reference log-probs", () => {
    const out = join(tmp, "hh");
    const cfg = join(tmp, "dpo.yaml");
    writeFileSync(cfg, ["beta: 0.2", "loss_type: sigmoid", "label_smoothing: 0.1", "max_seq_length: 96", "max_prompt_length: 48", "precompute_ref_log_probs: true"].join("\n") + "\n");
    const r = train(["--config", cfg, "--model", MODEL, "--data", HH, "--output-dir", out, "--max-steps", "2", "--logging-steps", "1", "--per-device-train-batch-size", "4", "--learning-rate", "1e-4"]);
    ok(r);
    expect(r.stderr).toMatch(/truncated \d+ of 2312 training pairs to maxLength 96, maxPromptLength 48/);
    expect(existsSync(join(out, "reference_logps.safetensors"))).toBe(true);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
    const first = lines(join(out, "metrics.jsonl"))[0]!;
    // cDPO at h = 0: -(1-ε) log σ(0) - ε log σ(0) = ln 2.
    expect(Math.abs(first.loss! - Math.LN2)).toBeLessThan(1e-5);
  });

  it("rejects bad input with one line naming the file, record and field", () => {
    const never = join(tmp, "never");
    const base = ["--model", MODEL, "--output-dir", never, "--max-steps", "1"];
    const noRejected = join(tmp, "no-rejected.jsonl");
    writeFileSync(noRejected, JSON.stringify({ prompt: "Once", chosen: " a cat", rejected: " a dog" }) + "\n" + JSON.stringify({ prompt: "Once", chosen: " a cat" }) + "\n");
    failsWith(train([...base, "--data", noRejected]), /no-rejected\.jsonl:2: record has no 'rejected' field/);
    const empty = join(tmp, "empty-rejected.jsonl");
    writeFileSync(empty, JSON.stringify({ prompt: "Once", chosen: " a cat", rejected: "" }) + "\n");
    failsWith(train([...base, "--data", empty]), /empty-rejected\.jsonl: no record left: the only record has an empty 'rejected' \(line 1\)/);
    const same = join(tmp, "same.jsonl");
    writeFileSync(same, JSON.stringify({ prompt: "Once", chosen: " a cat", rejected: " a cat" }) + "\n");
    failsWith(train([...base, "--data", same]), /same\.jsonl: no training pair is left \(1 with identical chosen and rejected completions/);
    failsWith(train([...base, "--data", demo64]), /demo64\.json:1: record 1: conversational pair but the tokenizer has no chat_template; pass --chat-template/);
    failsWith(train([...base, "--data", noRejected, "--loss-type", "dpo"]), /--loss-type must be one of sigmoid, ipo, hinge, robust, got dpo/);
    failsWith(train([...base, "--data", noRejected, "--loss-type", "hinge", "--label-smoothing", "0.1"]), /--label-smoothing applies to --loss-type sigmoid \(cDPO\) or robust only, not hinge/);
    failsWith(train([...base, "--data", noRejected, "--beta", "0"]), /--beta must be > 0, got 0/);
    failsWith(train([...base, "--data", noRejected, "--max-length", "64", "--max-prompt-length", "64"]), /--max-prompt-length must be less than --max-length \(64\)/);
    failsWith(train([...base, "--data", noRejected, "--adapter", join(tmp, "absent"), "--lora-r", "4"]), /--adapter .*drop the LoRA options/);
    expect(existsSync(never)).toBe(false);
  });
});
