/**
 * `ortrl train grpo` end to end through the built binary: reward functions from a TypeScript file
 * (no build step) and an .mjs file, built-in rewards on GSM8K, metrics.jsonl and completions.jsonl,
 * and every reward-function failure as one error line naming the function, step and index.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, SHARED, ortrl } from "./helpers/cli.js";
import { expectFailure, expectOk } from "./helpers/cli.js";
import { objectPrompts } from "./helpers/grpo.js";

const MODEL = join(SHARED, "models/stories260K-hf");
let tmp = "";
let prompts = "";
let rewardsTs = "";
let gsm = "";

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-grpo-"));
  prompts = objectPrompts(32);
  rewardsTs = join(tmp, "rewards.ts");
  writeFileSync(
    rewardsTs,
    [
      'import type { RewardArgs } from "@ortrl/core";',
      "export function mentionsAnswer({ completions, answer }: RewardArgs): number[] {",
      "  return completions.map((c, i) => (String(c).toLowerCase().includes(String(answer[i])) ? 1 : 0));",
      "}",
      "export const short = async ({ completionIds }: RewardArgs): Promise<number[]> => completionIds.map((ids) => (ids.length < 12 ? 1 : 0));",
      "let calls = 0;",
      "export const throwsLater = ({ completions }: RewardArgs) => { if (++calls > 1) throw new Error('no network'); return completions.map(() => 0); };",
      "export const tooFew = ({ completions }: RewardArgs) => completions.slice(2).map(() => 0);",
      "export const nanAt7 = ({ completions }: RewardArgs) => completions.map((_, i) => (i === 7 ? Number.NaN : 0));",
      "export const strings = ({ completions }: RewardArgs) => completions.map(() => 'high');",
      "export const rejects = async () => { throw new Error('rejected'); };",
      "export const notAFunction = 3;",
      "export const hangs = () => new Promise<number[]>(() => {});",
      "export const huge = ({ completions }: RewardArgs) => completions.map((_, i) => (i % 2 ? 1e300 : -1e300));",
      "export const mutates = ({ completionIds, completions }: RewardArgs) => { const n = completions.length; completionIds.forEach((ids) => ids.splice(0)); completions.reverse(); return Array.from({ length: n }, (_, i) => i % 2); };",
    ].join("\n") + "\n",
  );
  gsm = join(tmp, "gsm8k-16.jsonl");
  writeFileSync(gsm, readFileSync(join(SHARED, "data/gsm8k/train.jsonl"), "utf8").split("\n").slice(0, 16).join("\n") + "\n");
});

const train = (args: string[]): CliResult => ortrl(["train", "grpo", "--model", MODEL, ...args], { timeoutMs: 120_000 });
const small = (out: string) => ["--output-dir", out, "--num-generations", "4", "--per-device-train-batch-size", "8", "--max-completion-length", "16", "--logging-steps", "1", "--lora-r", "8"];
const lines = (path: string): Record<string, unknown>[] => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const failsWith = expectFailure;

describe("ortrl train grpo", () => {
  it("trains with reward functions from a .ts file (weighted), logging TRL's keys and completions.jsonl", () => {
    const out = join(tmp, "ts");
    const r = train(["--data", prompts, ...small(out), "--reward-funcs", `${rewardsTs}:mentionsAnswer`, `${rewardsTs}:short`, "--reward-weights", "1", "0.5", "--max-steps", "2", "--beta", "0.04"]);
    expect(r.status, r.stderr).toBe(0);
    const metrics = lines(join(out, "metrics.jsonl"));
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    for (const k of ["reward", "reward_std", "rewards/mentionsAnswer/mean", "rewards/short/mean", "kl", "entropy", "clip_ratio/region_mean", "completions/mean_length"]) {
      expect(Number.isFinite(metrics[0]![k]), k).toBe(true);
    }
    const samples = lines(join(out, "completions.jsonl"));
    expect(samples.length).toBe(16);
    const s = samples[0] as { reward: number; rewards: Record<string, number> };
    expect(s.reward).toBeCloseTo(s.rewards.mentionsAnswer! + 0.5 * s.rewards.short!, 6);
    expect(existsSync(join(out, "adapter_model.safetensors"))).toBe(true);
  });

  it("reads GSM8K {question, answer} with the built-in accuracy and format rewards, and an .mjs reward", () => {
    const mjs = join(tmp, "len.mjs");
    writeFileSync(mjs, "export const nonEmpty = ({ completions }) => completions.map((c) => (c.trim() ? 1 : null));\n");
    const out = join(tmp, "gsm");
    const r = train(["--data", gsm, ...small(out), "--reward-funcs", "accuracy", "format", `${mjs}:nonEmpty`, "--max-steps", "1", "--max-prompt-length", "128"]);
    expect(r.status, r.stderr).toBe(0);
    const m = lines(join(out, "metrics.jsonl"))[0]!;
    expect(m["rewards/accuracy/mean"]).toBe(0); // a 260K-parameter story model does not solve GSM8K
    expect(m["rewards/format/mean"]).toBe(0);
    expect(m["rewards/nonEmpty/mean"]).toBe(1);
    const questions = readFileSync(gsm, "utf8").trim().split("\n").map((l) => JSON.parse(l).question);
    for (const s of lines(join(out, "completions.jsonl"))) expect(questions).toContain(s.prompt);
  });

  it("gives each reward function its own copy of the arguments: mutating them changes neither training nor completions.jsonl", () => {
    const out = join(tmp, "mutates");
    const r = train(["--data", prompts, ...small(out), "--reward-funcs", `${rewardsTs}:mutates`, `${rewardsTs}:mentionsAnswer`, "--max-steps", "1"]);
    expect(r.status, r.stderr).toBe(0);
    const m = lines(join(out, "metrics.jsonl"))[0]!;
    expect(m["completions/mean_length"]).toBe(16);
    const samples = lines(join(out, "completions.jsonl")) as { completion: string; rewards: Record<string, number> }[];
    expect(samples.every((s) => s.completion.length > 0)).toBe(true);
    samples.forEach((s, i) => expect(s.rewards.mutates).toBe(i % 2));
  });

  it("reports each reward-function failure as one line naming the function, the step and the index", () => {
    const never = join(tmp, "never");
    const run = (spec: string, extra: string[] = []) => train(["--data", prompts, ...small(join(tmp, `fail-${spec.split(":").at(-1)}`)), "--reward-funcs", spec, "--max-steps", "2", ...extra]);
    failsWith(run(`${rewardsTs}:throwsLater`), /reward function 'throwsLater' threw at step 2: no network/);
    failsWith(run(`${rewardsTs}:tooFew`), /reward function 'tooFew' returned 6 values at step 1; expected 8 \(one per completion\)/);
    failsWith(run(`${rewardsTs}:nanAt7`), /reward function 'nanAt7' returned NaN at index 7 \(step 1\)/);
    failsWith(run(`${rewardsTs}:strings`), /reward function 'strings' returned the string "high" at index 0 \(step 1\); expected a number or null/);
    failsWith(run(`${rewardsTs}:rejects`), /reward function 'rejects' threw at step 1: rejected/);
    failsWith(run(`${rewardsTs}:notAFunction`), /export 'notAFunction' of .*rewards\.ts is a number, not a function/);
    failsWith(run(`${rewardsTs}:missing`), /rewards\.ts has no export 'missing' \(exports: .*mentionsAnswer/);
    failsWith(run("acuracy"), /reward function 'acuracy': not a built-in \(accuracy, format\) nor FILE:exportName/);
    failsWith(run(`${rewardsTs}:hangs`), /reward function 'hangs' returned a promise that can never settle \(step 1\)/);
    failsWith(run(`${rewardsTs}:huge`), /the weighted reward of completion 0 is -1e\+300 \(step 1\): too large for advantages/);
    const cols = join(tmp, "cols.jsonl");
    writeFileSync(cols, JSON.stringify({ prompt: "Once", completions: 3 }) + "\n");
    failsWith(train(["--data", cols, "--output-dir", never, "--reward-funcs", "format"]), /cols\.jsonl:1: field 'completions' would shadow the reward-function argument/);
    failsWith(run(join(tmp, "absent.ts:f")), /absent\.ts: file not found/);
    failsWith(train(["--data", prompts, "--output-dir", never]), /--reward-funcs must list at least one reward function/);
    failsWith(train(["--data", prompts, "--output-dir", never, "--reward-funcs", "accuracy", "--num-generations", "3"]), /--num-generations \(3\) must divide the completions of a step, --per-device-train-batch-size x --gradient-accumulation-steps = 8 x 1 = 8/);
    failsWith(train(["--data", prompts, "--output-dir", never, "--reward-funcs", "accuracy", "format", "--reward-weights", "1"]), /--reward-weights must give one weight per reward function \(2\), got 1/);
    failsWith(train(["--data", prompts, "--output-dir", never, "--reward-funcs", "accuracy", "--reward-weights", "x"]), /--reward-weights\[0\] must be a number, got x/);
    const noAnswer = join(tmp, "no-answer.jsonl");
    writeFileSync(noAnswer, JSON.stringify({ prompt: "Once" }) + "\n" + JSON.stringify({ text: "x" }) + "\n");
    failsWith(train(["--data", noAnswer, "--output-dir", never, "--reward-funcs", "accuracy"]), /no-answer\.jsonl:2: record fits no prompt format \(fields seen: text\)/);
    const onlyPrompts = join(tmp, "only-prompts.jsonl");
    writeFileSync(onlyPrompts, JSON.stringify({ prompt: "Once", level: 2 }) + "\n");
    failsWith(train(["--data", onlyPrompts, "--output-dir", never, "--reward-funcs", "accuracy"]), /only-prompts\.jsonl: the built-in 'accuracy' reward needs an 'answer' or 'solution' field; the records have level/);
    expect(existsSync(never)).toBe(false);
  });
});
