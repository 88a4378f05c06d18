/**
 * ORPO learns on real data: stories260K (a real pretrained TinyStories model) with a LoRA adapter,
 * trained through the plugin and core's DefaultTrainer on 48 preference pairs of LLaMA-Factory's
 * dpo_en_demo (../shared/data/dpo-en-demo, human-written assistant answers; the conversation rendered
 * as the prompt), evaluated on the same pairs before and after: the loss falls, and the chosen
 * completions gain on the rejected ones (margins and accuracy rise). Also: TRL's metric keys in the
 * events, exact resume from a checkpoint (and a changed beta refused by the run fingerprint), and a
 * bad data file failing when the module is loaded, naming file, line and field.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { type OrpoConfig, orpoPlugin } from "ortrl-plugin-orpo";
import { SHARED_DIR as SHARED } from "@ortrl/core/testing";

const STORIES = join(SHARED, "models/stories260K-hf");
const DPO_EN_DEMO = join(SHARED, "data/dpo-en-demo/dpo_en_demo.json");
const ORPO_KEYS = ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "nll_loss", "log_odds_ratio", "log_odds_chosen"];

interface ShareGptRecord {
  conversations: { from: string; value: string }[];
  chosen: { value: string };
  rejected: { value: string };
}

/** The first `n` dpo_en_demo records as {prompt, chosen, rejected} strings (the turns rendered "role: text"). */
function standardPairs(n: number): { prompt: string; chosen: string; rejected: string }[] {
  const records = JSON.parse(readFileSync(DPO_EN_DEMO, "utf8")) as ShareGptRecord[];
  return records.slice(0, n).map((r) => ({
    prompt: r.conversations.map((t) => `${t.from}: ${t.value}\n`).join("") + "gpt: ",
    chosen: r.chosen.value,
    rejected: r.rejected.value,
  }));
}

const tmp = mkdtempSync(join(tmpdir(), "ortrl-orpo-"));
let trainFile: string;
beforeAll(() => {
  trainFile = join(tmp, "pairs.jsonl");
  writeFileSync(trainFile, standardPairs(48).map((p) => JSON.stringify(p)).join("\n") + "\n");
});

async function orpoRun(overrides: Partial<OrpoConfig>) {
  const config = orpoPlugin.resolve({
    outputDir: mkdtempSync(join(tmp, "out-")),
    dataFiles: [trainFile],
    evalDataFiles: [trainFile],
    maxLength: 96,
    maxPromptLength: 32,
    perDeviceTrainBatchSize: 8,
    perDeviceEvalBatchSize: 16,
    learningRate: 4e-3,
    lrSchedulerType: "constant",
    maxSteps: 12,
    loggingSteps: 6,
    saveSteps: 0,
    ...overrides,
  });
  const model = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 1 }));
  const policy = F.CausalLmPolicy.fromPretrained(model, { r: 16, loraAlpha: 32, targetModules: "all-linear" }, config.seed);
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(orpoPlugin.module(config));
  const events: F.TrainerEvent[] = [];
  const events$ = container.get<F.TrainerEvents>(F.TrainerEvents).events$;
  events$.subscribe((e) => events.push(e));
  return { config, events, events$, trainer: container.get<F.Trainer>(F.Trainer) };
}

describe("LoRA ORPO on dpo_en_demo pairs (stories260K)", () => {
  it("the loss falls and the chosen completions pull ahead of the rejected ones", async () => {
    const t0 = performance.now();
    const run = await orpoRun({});
    const before = await run.trainer.evaluate();
    const result = await run.trainer.run();
    const after = result.evalMetrics!;
    const logs = run.events.filter((e): e is F.LogEvent => e.type === "log").map((e) => e.metrics);
    const fmt = (m: Record<string, number>, p = "eval_") =>
      ["loss", "nll_loss", "rewards/margins", "rewards/accuracies", "log_odds_chosen"].map((k) => `${k} ${m[p + k]!.toFixed(4)}`).join(", ");
    console.log(`before: ${fmt(before)}\nafter:  ${fmt(after)}\ntrain logs: ${logs.map((m) => fmt(m, "")).join(" | ")}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    expect(after.eval_loss).toBeLessThan(before.eval_loss! * 0.9);
    expect(after.eval_nll_loss).toBeLessThan(before.eval_nll_loss!);
    expect(after["eval_rewards/margins"]).toBeGreaterThan(before["eval_rewards/margins"]!);
    expect(after["eval_log_odds_chosen"]).toBeGreaterThan(before["eval_log_odds_chosen"]!);
    expect(after["eval_rewards/accuracies"]).toBeGreaterThanOrEqual(before["eval_rewards/accuracies"]!);
    expect(logs.at(-1)!.loss).toBeLessThan(logs[0]!.loss!);

    // TRL's keys, in TRL's order, in logs, step events and evaluations.
    expect(Object.keys(logs[0]!)).toEqual(["loss", "grad_norm", "learning_rate", ...ORPO_KEYS, "epoch", "num_tokens", "train_tokens_per_second"]);
    const step = run.events.find((e): e is F.StepEndEvent => e.type === "step_end")!;
    expect(Object.keys(step.metrics)).toEqual(Object.keys(logs[0]!)); // step_end and log: one vocabulary
    expect(Object.keys(after)).toEqual(["eval_loss", ...ORPO_KEYS.map((k) => `eval_${k}`), "eval_runtime"]);
  });

  it("resumes exactly from a checkpoint, and refuses one written with another beta", async () => {
    const stepLosses = (events: F.TrainerEvent[]) => events.flatMap((e) => (e.type === "step_end" ? [e.metrics.loss!] : []));
    const common = { maxSteps: 4, saveSteps: 2, evalDataFiles: [] };
    const whole = await orpoRun(common);
    await whole.trainer.run();
    // Stopped after step 2 (as Ctrl-C would): checkpoint-2 holds the adapter, optimizer state and the run's fingerprint.
    const first = await orpoRun(common);
    const stop = new AbortController();
    first.events$.pipe(F.ofType("step_end")).subscribe((e) => e.step === 2 && stop.abort());
    expect((await first.trainer.run({ signal: stop.signal })).stopped).toBe(true);
    const checkpoint = join(first.config.outputDir, "checkpoint-2");
    const resumed = await orpoRun({ ...common, outputDir: first.config.outputDir, resumeFromCheckpoint: checkpoint });
    await resumed.trainer.run();
    const got = [...stepLosses(first.events), ...stepLosses(resumed.events)];
    expect(got).toHaveLength(4);
    stepLosses(whole.events).forEach((l, i) => expect(Math.abs(got[i]! - l)).toBeLessThan(1e-6));
    // beta is part of the run's arguments: the trainer's fingerprint refuses the checkpoint, naming it.
    const other = await orpoRun({ ...common, beta: 0.2, outputDir: first.config.outputDir, resumeFromCheckpoint: checkpoint });
    await expect(other.trainer.run()).rejects.toThrow(/was written by a different run: beta 0\.1 -> 0\.2/);
  });

  it("a data file with a record lacking 'rejected' fails when the module is loaded, naming file, line and field", async () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify(standardPairs(1)[0])}\n${JSON.stringify({ prompt: "p", chosen: "c" })}\n`);
    await expect(orpoRun({ dataFiles: [bad], evalDataFiles: [] })).rejects.toThrow(`${bad}:2: record has no 'rejected' field`);
  });
});
