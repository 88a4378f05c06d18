/**
 * `ortrl train <method>`: one command per method plugin, its flags generated from the method's config
 * schema plus the run options (model, device, ...) and, for methods that can train adapters, the
 * LoRA options. `--config FILE` supplies any of them (snake_case keys); flags override the file.
 * Runs the plugin with progress output (the trainer writes metrics.jsonl and samples.jsonl); prints the
 * final metrics (the TrainResult's `metrics`, the final evaluation's, `output_dir`) as one JSON line.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import {
  CausalLmPolicy,
  ConfigSchema,
  EvalDataset,
  LORA_OPTION_FIELDS,
  type LoraOptions,
  type MethodPlugin,
  Runtime,
  SAVE_MERGED_NEEDS_LORA,
  type Trainer,
  Trainer as TrainerToken,
  TrainerEvents,
  TrainDataset,
  type TrainingArguments,
  TrainingRecord,
  boolField,
  completeOutputDir,
  createTrainingContainer,
  filesNamedBy,
  lockOutputDir,
  enumField,
  intField,
  loadPretrained,
  loraConfigFromOptions,
  nullable,
  policyParameterCounts,
  prepareOutputDir,
  textField,
  trainableParametersLine,
} from "@ortrl/core";
import { UsageError } from "../errors.js";
import { type StopSignals, handleStopSignals } from "../stop-signals.js";
import { readConfigFile } from "../config-file.js";
import { addSchemaFlags, flagValues } from "../schema-options.js";
import { attachTrainingUi } from "../training-ui.js";
import { resolveAdapterAsModel } from "./model-options.js";
import { ortrlVersion, trainingRecordOf } from "../training-record-of.js";

/** Options of a run that are not the method's config. */
const RUN_FIELDS = {
  model: textField("", "Hugging Face model directory to start from (a base model or an earlier run's output)", {}, { placeholder: "dir" }),
  device: enumField(["cpu", "cuda"] as const, "cpu", "execution provider"),
  threads: nullable(intField(1, "intra-op threads (default: one per core)", { min: 1 })),
  overwriteOutputDir: boolField(false, "replace an earlier run in --output-dir: its files are moved to ortrl-previous-run-N/ there and deleted only when this run completes"),
};
const ADAPTER_FIELDS = {
  adapter: nullable(textField("", "PEFT adapter directory to continue training (its own LoRA config; the reference model is base + this adapter, frozen)", {}, { placeholder: "dir" })),
};
const RUN_KEYS = [...Object.keys(RUN_FIELDS), ...Object.keys(ADAPTER_FIELDS)];
const LORA_KEYS = Object.keys(LORA_OPTION_FIELDS);

export interface TrainCommandSpec<C extends TrainingArguments> {
  plugin: MethodPlugin<C>;
  description: string;
  /** The method can train a LoRA adapter (LoRA flags and --adapter). */
  lora: boolean;
}

/** The schema of everything `ortrl train <method>` accepts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function commandSchema(spec: TrainCommandSpec<any>): ConfigSchema<any> {
  const run = spec.lora ? { ...RUN_FIELDS, ...ADAPTER_FIELDS, ...LORA_OPTION_FIELDS } : RUN_FIELDS;
  return new ConfigSchema({ ...run, ...spec.plugin.schema.fields });
}

export function trainCommand<C extends TrainingArguments>(spec: TrainCommandSpec<C>): Command {
  const schema = commandSchema(spec);
  const cmd = new Command(spec.plugin.name).description(spec.description);
  cmd.option("--config <file>", "YAML or JSON file with any of these options (snake_case keys); flags override it");
  const added = addSchemaFlags(cmd, schema);
  cmd.action(async (flags: Record<string, unknown>) => {
    const file = typeof flags.config === "string" ? flags.config : undefined;
    const fromFile = file ? readConfigFile(file, schema) : {};
    const fromFlags = schema.parsePartial(flagValues(flags, schema, added), "command line", "flag");
    await runTraining(spec.plugin, { ...fromFile, ...fromFlags }, file ?? "command line", { lora: spec.lora });
  });
  return cmd;
}

/**
 * Loads the model, resolves the config, runs the plugin, prints the final metrics as one JSON line.
 * @param opts.lora the method can train adapters (default true): `--model ADAPTER_DIR` without LoRA
 *   options then continues that adapter on its base model (see {@link resolveAdapterAsModel}).
 */
export async function runTraining<C extends TrainingArguments>(plugin: MethodPlugin<C>, options: Record<string, unknown>, source: string, opts: { lora?: boolean } = {}): Promise<void> {
  const o = options as Record<string, unknown> & { model?: string; adapter?: string | null; device?: "cpu" | "cuda"; threads?: number | null; overwriteOutputDir?: boolean };
  if (!o.model) throw new UsageError(`--model is required (${source})`);
  if (typeof o.outputDir !== "string") throw new UsageError(`--output-dir is required (${source})`);
  // Signals from here on stop the run cleanly (before training starts: nothing is trained).
  const stop = new AbortController();
  const signals = handleStopSignals(stop, "stopping after the current step (SIGNAL again to exit at once)", "exiting without saving the step in progress");
  try {
    await train(plugin, options, source, stop, signals, opts.lora ?? true);
  } finally {
    signals.dispose();
  }
}

async function train<C extends TrainingArguments>(plugin: MethodPlugin<C>, options: Record<string, unknown>, source: string, stop: AbortController, signals: StopSignals, canAdapt: boolean): Promise<void> {
  const o = options as Record<string, unknown> & { model: string; adapter?: string | null; device?: "cpu" | "cuda"; threads?: number | null; overwriteOutputDir?: boolean };
  const methodOptions = Object.fromEntries(Object.entries(options).filter(([k]) => !RUN_KEYS.includes(k) && !LORA_KEYS.includes(k)));
  const config = plugin.resolve(methodOptions as Partial<C> & { outputDir: string }, source, source === "command line" ? "flag" : "snake");
  const lora = loraConfigFromOptions(options as Partial<LoraOptions>);
  if (o.adapter && lora) throw new UsageError(`--adapter ${o.adapter} continues an existing adapter with its own LoRA config; drop the LoRA options (--lora-r, --lora-alpha, --target-modules, ...)`);
  // --model ADAPTER_DIR: continuing that adapter (--adapter) is the only reading when the method trains
  // adapters and no new LoRA config is asked for; otherwise the hint to pass --model BASE --adapter DIR.
  if (!o.adapter) Object.assign(o, { adapter: null, ...resolveAdapterAsModel(o, canAdapt && !lora) });
  const runtime = new Runtime({ executionProvider: o.device ?? "cpu", intraOpNumThreads: o.threads ?? undefined });
  const model = await loadPretrained(o.model, runtime);
  const policy = CausalLmPolicy.fromPretrained(model, lora, config.seed, { adapterDir: o.adapter ?? null });
  if (config.saveMerged && !policy.adapter) {
    const naming = source === "command line" ? "flag" : "snake";
    throw new UsageError(`${source}: ${plugin.schema.nameOf("saveMerged", naming)} ${SAVE_MERGED_NEEDS_LORA}`);
  }
  const container = createTrainingContainer({ policy, args: config });
  await container.load(plugin.module(config)); // reads (and validates) the data files
  // ortrl_training.json, written by the final save: how this run was trained (its data format decides the prompt format).
  container
    .bind<TrainingRecord>(TrainingRecord)
    .toResolvedValue(
      (ds: TrainDataset) =>
        trainingRecordOf({
          method: plugin.name,
          formats: (ds as { stats?: { formats?: Record<string, number> } }).stats?.formats ?? {},
          config: config as unknown as Record<string, unknown>,
          runOptions: Object.fromEntries(Object.entries(options).filter(([k]) => RUN_KEYS.includes(k) || LORA_KEYS.includes(k))),
          baseModel: o.model,
          adapter: o.adapter ?? null,
          tokenizerChatTemplate: model.tokenizer?.chatTemplate ?? null,
          ortrlVersion: ortrlVersion(),
        }),
      [TrainDataset],
    )
    .inSingletonScope();
  if (config.evalOnStart && !container.isBound(EvalDataset)) {
    const naming = source === "command line" ? "flag" : "snake";
    throw new UsageError(`${source}: ${plugin.schema.nameOf("evalOnStart", naming)} needs evaluation data (${plugin.schema.nameOf("evalDataFiles", naming)} or ${plugin.schema.nameOf("evalHoldout", naming)})`);
  }
  if (config.evalSteps !== null && !container.isBound(EvalDataset)) {
    process.emitWarning("--eval-steps is set but there is no evaluation data (--eval-data or --eval-holdout): nothing will be evaluated");
  }
  // Everything that can refuse the run happens before the output directory is touched: the datasets
  // are tokenised (resolving the trainer) and a resumed checkpoint is checked against this run.
  const trainer = container.get<Trainer>(TrainerToken);
  trainer.checkResume?.();
  await new Promise((resolve) => setImmediate(resolve)); // let a signal sent during loading arrive
  if (stop.signal.aborted) {
    process.stderr.write("ortrl: interrupted before training started; nothing was changed\n");
    process.exitCode = signals.exitCode();
    return;
  }
  const inputs = [{ what: "--model", path: o.model }, ...(o.adapter ? [{ what: "--adapter", path: o.adapter }] : [])];
  const inputFiles = [
    ...filesNamedBy(config).map((f) => ({ what: plugin.schema.nameOf(f.key, "flag"), path: f.path })),
    ...(source !== "command line" ? [{ what: "--config", path: source }] : []),
  ];
  const overwrite = o.overwriteOutputDir === true;
  // An evaluate-only run (--max-steps 0) writes no model: it must not replace (and so delete) one.
  if (overwrite && (config as { maxSteps?: number }).maxSteps === 0) {
    throw new UsageError(`--overwrite-output-dir with --max-steps 0: an evaluate-only run writes no model, so it cannot replace the run in ${config.outputDir}; use another --output-dir`);
  }
  lockOutputDir(config.outputDir); // before anything is moved: a directory in use is refused untouched
  prepareOutputDir(config.outputDir, { resumeFrom: config.resumeFromCheckpoint, overwrite, inputs, inputFiles });
  // (A metrics.jsonl line that cannot be written stops the run after its step with a checkpoint: the trainer throws.)
  const sub = attachTrainingUi(container.get<TrainerEvents>(TrainerEvents));
  // PEFT's print_trainable_parameters line (the counts `ortrl inspect` prints), once nothing can refuse the run.
  process.stderr.write(trainableParametersLine(policyParameterCounts(model.lm.params, policy.adapter)) + "\n");
  try {
    const result = await trainer.run({ signal: stop.signal });
    const summary = { ...result.metrics, ...(result.evalMetrics ?? {}), output_dir: config.outputDir };
    if (result.stopped) {
      const last = join(config.outputDir, `checkpoint-${result.globalStep}`);
      process.stderr.write(
        existsSync(last)
          ? `ortrl: interrupted after step ${result.globalStep}; checkpoint saved: resume with --resume-from-checkpoint ${last}\n`
          : "ortrl: interrupted before the first optimizer step; nothing was trained (precomputed reference log-probs, if any, were kept and will be reused)\n",
      );
      process.stdout.write(JSON.stringify({ ...summary, interrupted: true }) + "\n");
      process.exitCode = signals.exitCode();
      return;
    }
    completeOutputDir(config.outputDir, overwrite, inputFiles);
    if (stop.signal.aborted) {
      // The stop request came during the final evaluation: the model is complete, its evaluation is not.
      process.stderr.write(`ortrl: interrupted during the final evaluation: the final model was saved in ${config.outputDir}, without its eval metrics\n`);
      process.stdout.write(JSON.stringify({ ...summary, interrupted: true }) + "\n");
      process.exitCode = signals.exitCode();
      return;
    }
    process.stdout.write(JSON.stringify(summary) + "\n");
  } finally {
    sub.unsubscribe();
  }
}
