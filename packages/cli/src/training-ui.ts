/**
 * What the CLI shows while training: a cli-progress bar on stderr (loss, learning rate, tokens/s; silent when
 * stderr is not a terminal), a line per evaluation when stderr is not a terminal, and one short line per sample
 * generation (`--generate-prompts`). The run's files (metrics.jsonl, samples.jsonl) are the trainer's.
 */
import cliProgress from "cli-progress";
import type { Subscription } from "rxjs";
import type { TrainerEvents } from "@ortrl/core";

/** Longest prompt / completion shown on a sample line (characters; the whole text is in samples.jsonl). */
const SAMPLE_CHARS = 60;

export function attachTrainingUi(events: TrainerEvents): Subscription {
  const bar = new cliProgress.SingleBar(
    { format: "{bar} {value}/{total} steps | loss {loss}{extra} | lr {lr} | {tps} tok/s | eta {eta_formatted}", hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return events.events$.subscribe((e) => {
    switch (e.type) {
      case "train_begin":
        bar.start(e.maxSteps, e.startStep, { loss: "-", lr: "-", tps: "-", extra: "" });
        started = true;
        break;
      case "step_end": {
        const m = e.metrics;
        // GRPO: the mean reward of the step's rollout; DPO: its reward accuracy.
        const extra = m.reward !== undefined ? ` | reward ${m.reward.toFixed(3)}` : m["rewards/accuracies"] !== undefined ? ` | acc ${m["rewards/accuracies"].toFixed(2)}` : "";
        bar.update(e.step, { loss: m.loss?.toFixed(4), lr: m.learning_rate?.toExponential(2), tps: m.train_tokens_per_second?.toFixed(0), extra });
        break;
      }
      case "evaluate":
        if (!process.stderr.isTTY) process.stderr.write(`step ${e.step}: ${evalSummary(e.metrics)}\n`);
        break;
      case "samples": {
        const lines = e.samples.map((s) => `step ${e.step} sample: ${short(s.prompt)} -> ${short(s.completion)}\n`).join("");
        // On a terminal, clear the bar's line first; it is drawn again at the next step.
        process.stderr.write((started && process.stderr.isTTY ? "\r\x1b[K" : "") + lines);
        break;
      }
      case "train_end":
      case "error":
        if (started) bar.stop();
        started = false;
        break;
    }
  });
}

/** A text on one line, JSON-quoted, cut to SAMPLE_CHARS characters. */
function short(text: string): string {
  return JSON.stringify(text.length > SAMPLE_CHARS ? `${text.slice(0, SAMPLE_CHARS)}...` : text);
}

/** eval_loss and the headline metric of the method (perplexity, reward accuracy), for one stderr line. */
function evalSummary(m: Readonly<Record<string, number>>): string {
  const parts = [`eval_loss ${m.eval_loss?.toFixed(4)}`];
  if (m.perplexity !== undefined) parts.push(`perplexity ${m.perplexity.toFixed(3)}`);
  for (const k of ["eval_rewards/accuracies", "eval_rewards/margins", "eval_reward"]) if (m[k] !== undefined) parts.push(`${k} ${m[k].toFixed(4)}`);
  return parts.join(" ");
}
