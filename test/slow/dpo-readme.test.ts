/**
 * The README's DPO walk-through, exactly as written: self-generated preference pairs from the example
 * script, then `ortrl train dpo` with LoRA and with full fine-tuning; held-out reward accuracy rises from
 * 0 (policy = reference) to well above chance. Also a whole epoch over LLaMA-Factory's dpo-en-demo.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, SHARED, ortrl } from "../helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const tmp = mkdtempSync(join(tmpdir(), "ortrl-slow-dpo-"));
const evals = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((m) => "eval_loss" in m);

describe("README: DPO on self-generated pairs", () => {
  const pairs = join(tmp, "pairs.jsonl");
  it("makes the pairs", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "examples/dpo/self-preference-pairs.ts", "--model", MODEL, "--n", "400", "--out", pairs], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(pairs, "utf8").trim().split("\n")).toHaveLength(400);
  });
  for (const [name, flags] of [
    ["LoRA", ["--lora-r", "16", "--lora-alpha", "32", "--target-modules", "all-linear", "--learning-rate", "1e-3"]],
    ["full fine-tuning", ["--learning-rate", "2e-4"]],
  ] as const) {
    it(`${name}: held-out accuracy above 0.9`, () => {
      const out = join(tmp, name);
      const r = ortrl(["train", "dpo", "--model", MODEL, "--data", pairs, "--eval-holdout", "0.2", "--output-dir", out, ...flags,
        "--max-steps", "40", "--per-device-train-batch-size", "8", "--eval-steps", "10", "--logging-steps", "10"]);
      expect(r.status, r.stderr).toBe(0);
      const ev = evals(out);
      console.log(`${name}: eval_rewards/accuracies ${ev.map((m) => m["eval_rewards/accuracies"].toFixed(3)).join(" -> ")}`);
      expect(ev.map((m) => m.step)).toEqual([10, 20, 30, 40]);
      expect(ev.at(-1)["eval_rewards/accuracies"]).toBeGreaterThan(0.9);
      expect(ev.at(-1).eval_loss).toBeLessThan(0.2);
    });
  }
});

describe("a whole epoch over dpo-en-demo", () => {
  it("runs 300 ShareGPT-ranking pairs with evaluation and finite metrics", () => {
    const template = join(tmp, "chat.jinja");
    writeFileSync(template, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
    const out = join(tmp, "demo");
    const r = ortrl(["train", "dpo", "--model", MODEL, "--data", join(SHARED, "data/dpo-en-demo/dpo_en_demo.json"), "--chat-template", template, "--output-dir", out,
      "--num-train-epochs", "1", "--eval-holdout", "0.1", "--lora-r", "8", "--max-length", "256", "--max-prompt-length", "128", "--per-device-train-batch-size", "8", "--learning-rate", "5e-4"]);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(result.global_step).toBe(Math.ceil(270 / 8));
    for (const [k, v] of Object.entries(result)) if (k !== "output_dir") expect(Number.isFinite(v), k).toBe(true);
  });
});
