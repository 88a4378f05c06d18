/**
 * What the CLI shows and writes while training: a cli-progress bar on stderr (loss, learning rate,
 * tokens/s; silent when stderr is not a terminal) and `outputDir/metrics.jsonl`, one JSON object per
 * logged step and per evaluation (appended, so a resumed run continues the file, after dropping the
 * lines of steps past its checkpoint — also from GRPO's completions.jsonl). A metrics line that
 * cannot be written (no space, read-only, ...) is reported once to `onWriteFailure` as a
 * FileSystemError naming the file, and no further lines are attempted.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import type { Subscription } from "rxjs";
import { type TrainerEvents, reconcileStepLog, withFsContext } from "@ortrl/core";

export function attachTrainingUi(events: TrainerEvents, outputDir: string, onWriteFailure: (e: Error) => void): Subscription {
  const metricsFile = join(outputDir, "metrics.jsonl");
  let failed = false;
  const appendMetrics = (line: object) => {
    if (failed) return;
    try {
      withFsContext("write", metricsFile, () => {
        mkdirSync(outputDir, { recursive: true });
        appendFileSync(metricsFile, JSON.stringify(line) + "\n");
      });
    } catch (e) {
      failed = true;
      onWriteFailure(e as Error);
    }
  };
  const bar = new cliProgress.SingleBar(
    { format: "{bar} {value}/{total} steps | loss {loss}{extra} | lr {lr} | {tps} tok/s | eta {eta_formatted}", hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let tokens = 0;
  let t = performance.now();
  return events.events$.subscribe((e) => {
    switch (e.type) {
      case "train_begin":
        // A resumed run rewrites the steps after its checkpoint: drop them (and a torn last line) first.
        if (e.startStep > 0) {
          try {
            for (const f of [metricsFile, join(outputDir, "completions.jsonl")]) reconcileStepLog(f, e.startStep);
          } catch (err) {
            failed = true;
            onWriteFailure(err as Error);
          }
        }
        bar.start(e.maxSteps, e.startStep, { loss: "-", lr: "-", tps: "-", extra: "" });
        started = true;
        break;
      case "step_end": {
        tokens += e.numTokens;
        const now = performance.now();
        const tps = tokens / ((now - t) / 1000);
        // GRPO: the mean reward of the step's rollout; DPO: its reward accuracy.
        const extra = e.metrics.reward !== undefined ? ` | reward ${e.metrics.reward.toFixed(3)}` : e.metrics["rewards/accuracies"] !== undefined ? ` | acc ${e.metrics["rewards/accuracies"].toFixed(2)}` : "";
        bar.update(e.step, { loss: e.loss.toFixed(4), lr: e.learningRate.toExponential(2), tps: tps.toFixed(0), extra });
        if (now - t > 10_000) {
          tokens = 0;
          t = now;
        }
        break;
      }
      case "log":
        appendMetrics({ step: e.step, ...e.metrics });
        break;
      case "evaluate":
        appendMetrics({ step: e.step, ...e.metrics });
        if (!process.stderr.isTTY) process.stderr.write(`step ${e.step}: ${evalSummary(e.metrics)}\n`);
        break;
      case "train_end":
      case "error":
        if (started) bar.stop();
        started = false;
        break;
    }
  });
}

/** eval_loss and the headline metric of the method (perplexity, reward accuracy), for one stderr line. */
function evalSummary(m: Readonly<Record<string, number>>): string {
  const parts = [`eval_loss ${m.eval_loss?.toFixed(4)}`];
  if (m.perplexity !== undefined) parts.push(`perplexity ${m.perplexity.toFixed(3)}`);
  for (const k of ["eval_rewards/accuracies", "eval_rewards/margins", "eval_reward"]) if (m[k] !== undefined) parts.push(`${k} ${m[k].toFixed(4)}`);
  return parts.join(" ");
}
