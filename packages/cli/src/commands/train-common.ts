/**
 * Flags shared by `ortrl train <method>` commands, their merge with `--config FILE` (flags win), and
 * running a method plugin with progress output and metrics.jsonl.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Command, Option } from "commander";
import {
  CausalLmPolicy,
  type DefaultTrainer,
  type LoraConfig,
  type MethodPlugin,
  Runtime,
  Trainer,
  TrainerEvents,
  type TrainingArguments,
  createTrainingContainer,
  EvalDataset,
  loadPretrained,
} from "@ortrl/core";
import { UsageError, num } from "../errors.js";
import { attachTrainingUi } from "../training-ui.js";

export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option("--model <dir>", "Hugging Face model directory to start from")
    .option("--data <file...>", "training data file(s)")
    .option("--eval-data <file...>", "held-out data file(s) for eval_loss / perplexity")
    .option("--output-dir <dir>", "checkpoints, metrics.jsonl and the final model")
    .option("--config <file>", "YAML or JSON file with any of these options (snake_case keys); flags override it")
    .option("--max-steps <n>", "total optimizer steps (overrides epochs)", num("--max-steps", true, 1))
    .option("--num-train-epochs <e>", "passes over the training data", num("--num-train-epochs", false, 0))
    .option("--learning-rate <x>", "peak learning rate", num("--learning-rate", false, 0))
    .option("--per-device-train-batch-size <b>", "rows per micro-batch", num("--per-device-train-batch-size", true, 1))
    .option("--per-device-eval-batch-size <b>", "rows per evaluation batch", num("--per-device-eval-batch-size", true, 1))
    .option("--gradient-accumulation-steps <g>", "micro-batches per optimizer step", num("--gradient-accumulation-steps", true, 1))
    .option("--max-seq-length <t>", "tokens per row", num("--max-seq-length", true, 2))
    .option("--seed <s>", "seed of data order, initialisation and dropout", num("--seed", true, 0))
    .option("--resume-from-checkpoint <dir>", "continue from outputDir/checkpoint-N")
    .addOption(new Option("--lr-scheduler-type <type>", "learning-rate schedule").choices(["linear", "cosine", "constant", "constant_with_warmup"]))
    .option("--warmup-steps <n>", "warm-up steps", num("--warmup-steps", true, 0))
    .option("--warmup-ratio <r>", "warm-up as a fraction of all steps", num("--warmup-ratio", false, 0))
    .option("--weight-decay <w>", "decoupled weight decay", num("--weight-decay", false, 0))
    .option("--max-grad-norm <n>", "gradient clipping threshold (0 = off)", num("--max-grad-norm", false, 0))
    .option("--logging-steps <n>", "log every N steps", num("--logging-steps", true, 1))
    .option("--eval-steps <n>", "evaluate every N steps", num("--eval-steps", true, 1))
    .option("--save-steps <n>", "checkpoint every N steps (0 = final model only)", num("--save-steps", true, 0))
    .option("--save-total-limit <n>", "keep at most N checkpoints", num("--save-total-limit", true, 1))
    .option("--overwrite-output-dir", "replace an earlier run's checkpoints, metrics.jsonl and model in --output-dir")
    .addOption(new Option("--device <device>", "execution provider").choices(["cpu", "cuda"]))
    .option("--threads <n>", "intra-op threads", num("--threads", true, 1));
}

/** Commander's option keys -> config keys where they differ. */
export function flagsToConfig(flags: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || k === "config") continue;
    out[k] = v;
  }
  return out;
}

export interface RunSpec<C extends TrainingArguments> {
  plugin: MethodPlugin<C>;
  /** Merged options (config file, then flags). */
  options: Record<string, unknown>;
  /** Where the options came from (for error messages). */
  source: string;
  /** Maps merged options to the plugin's partial config. */
  toConfig(options: Record<string, unknown>): Partial<C> & { outputDir: string };
  lora?: Partial<LoraConfig> | null;
}

/** Loads the model, resolves the config, runs the plugin, prints the final metrics as one JSON line. */
export async function runTraining<C extends TrainingArguments>(spec: RunSpec<C>): Promise<void> {
  const o = spec.options;
  if (typeof o.model !== "string") throw new UsageError(`--model is required (${spec.source})`);
  if (typeof o.outputDir !== "string") throw new UsageError(`--output-dir is required (${spec.source})`);
  const config = spec.plugin.resolve(spec.toConfig(o), spec.source);
  const runtime = new Runtime({ executionProvider: (o.device as "cpu" | "cuda") ?? "cpu", intraOpNumThreads: o.threads as number | undefined });
  const model = await loadPretrained(o.model, runtime);
  const policy = CausalLmPolicy.fromPretrained(model, spec.lora ?? null, config.seed);
  const container = createTrainingContainer({ policy, args: config });
  await container.load(spec.plugin.module(config)); // reads (and validates) the data files
  if (config.evalSteps !== null && !container.isBound(EvalDataset)) {
    process.emitWarning("--eval-steps is set but there is no evaluation data (--eval-data or --eval-holdout): nothing will be evaluated");
  }
  prepareOutputDir(config.outputDir, config.resumeFromCheckpoint !== null, o.overwriteOutputDir === true);
  const trainer = container.get<DefaultTrainer>(Trainer);
  const sub = attachTrainingUi(container.get<TrainerEvents>(TrainerEvents), config.outputDir);
  // Ctrl-C stops after the current optimizer step and saves a checkpoint to resume from.
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    const result = await trainer.run({ signal: controller.signal });
    const summary = { global_step: result.globalStep, train_loss: result.trainLoss, ...(result.evalMetrics ?? {}), output_dir: config.outputDir };
    if (result.stopped) {
      const last = join(config.outputDir, `checkpoint-${result.globalStep}`);
      process.stderr.write(`ortrl: interrupted after step ${result.globalStep}; checkpoint saved: resume with --resume-from-checkpoint ${last}\n`);
      process.stdout.write(JSON.stringify({ ...summary, interrupted: true }) + "\n");
      process.exitCode = 130;
      return;
    }
    process.stdout.write(JSON.stringify(summary) + "\n");
  } finally {
    process.off("SIGINT", onSigint);
    sub.unsubscribe();
  }
}

/** Files and folders of an earlier run in an output directory. */
function earlierRun(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (f) => /^checkpoint-\d+$/.test(f) || ["metrics.jsonl", "model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "adapter_config.json"].includes(f),
  );
}

/**
 * Checks --output-dir before training: it must be a directory (or not exist); a fresh run (no
 * --resume-from-checkpoint) into a directory holding an earlier run is refused unless
 * --overwrite-output-dir, which then removes that run's checkpoints, metrics.jsonl and model files.
 */
function prepareOutputDir(dir: string, resuming: boolean, overwrite: boolean): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--output-dir ${dir} is a file, expected a directory`);
  if (resuming) return;
  const old = earlierRun(dir);
  if (!old.length) return;
  if (!overwrite) {
    throw new UsageError(
      `--output-dir ${dir} already holds a training run (${old.slice(0, 3).join(", ")}${old.length > 3 ? ", ..." : ""}); ` +
        "pass --overwrite-output-dir to replace it or --resume-from-checkpoint to continue it",
    );
  }
  for (const f of old) rmSync(join(dir, f), { recursive: true, force: true });
}
