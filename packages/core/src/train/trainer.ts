/**
 * The training loop shared by gradient-based methods. `run` reads top to bottom:
 *   begin (objective setup, resume, train_begin); evalOnStart: evaluate at step 0 (not when resumed)
 *   for each optimizer step:
 *     select its examples -> prepare rows (the objective's rollout phase) -> accumulate micro-batches
 *     -> stop on NaN/Inf -> clip -> optimizer step -> record -> maybe log -> maybe evaluate -> maybe sample -> maybe save
 *   finish (final model — none when maxSteps is 0 —, or a checkpoint when stopped; train_end)
 *
 * Semantics follow transformers.Trainer / TRL: the StepPlan fixes steps per epoch and maxSteps; the loss
 * of a step is its summed item losses over the items of the whole step (gradient accumulation is
 * exact); `loss` logs average the step losses since the last log; other metrics average the
 * micro-batch values since the last log (TRL's `_metrics`); `grad_norm` is the last step's
 * pre-clipping global norm; the schedule multiplier of step k (1-based) is factor(k - 1), and the
 * `learning_rate` of step k (its step_end event and its log line alike) is factor(k) (transformers logs
 * `_get_learning_rate()` after stepping its scheduler, i.e. the rate of the next step).
 * The run's logs go to outputDir: metrics.jsonl (every log and evaluation), samples.jsonl (generatePrompts'
 * completions); a resumed run first cuts them back to its checkpoint's step; a line that cannot be written
 * stops the run after that step with a checkpoint, then fails.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { inject, injectable, optional } from "inversify";
import { listCheckpoints, readOptimizerState, readTrainerState, saveCheckpoint, saveFinalModel, type TrainerState } from "./checkpoint.js";
import { outputSizes, warnIfLowDisk } from "./disk-space.js";
import { isRunOutputName } from "./output-dir.js";
import { saveMergedModel } from "./save-merged-model.js";
import { TrainingRecord, writeTrainingRecord } from "./training-record.js";
import { removeQuietly, removeStaleTemporaries } from "../io/atomic.js";
import { describeErrno } from "../io/fs-errors.js";
import { modelFingerprint } from "./reference.js";
import { type RunFingerprint, assertSameRun, dataFingerprint, fingerprintArgs, trainableFingerprint } from "./run-fingerprint.js";
import type { TrainingArguments } from "./args.js";
import { epochOrder } from "./examples.js";
import { STEP_LOGS, appendStepLog, reconcileStepLog } from "./step-log.js";
import { SAMPLES_FILE, generateSamples, readSamplePrompts } from "./samples.js";
import { Optimizer } from "../optim/optimizer.js";
import {
  EvalDataset,
  type Metrics,
  Objective,
  type PreparedStep,
  StepPlan,
  TrainDataset,
  type Trainer,
  type TrainResult,
} from "./contract.js";
import { TrainerEvents } from "./events.js";
import { LrScheduler, Policy, TrainingArgs } from "./seams.js";
import { Rng } from "../util/rng.js";

/** The folder of outputDir holding the merged model of a LoRA run (`saveMerged`). */
export const MERGED_DIR = "merged";

/** Why `saveMerged` is refused without LoRA (prefixed with the option's name as the user wrote it). */
export const SAVE_MERGED_NEEDS_LORA = "needs a LoRA adapter: this run trains all parameters, so its final model in the output directory already is the full model (drop it, or train with LoRA options)";

/** Thrown when a loss or gradient becomes NaN/Inf; parameters are left at the last good step. */
export class TrainingDivergedError extends Error {
  override name = "TrainingDivergedError";
}

const stepSeed = (seed: number, step: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + step * 40503) >>> 0;

/** Per-key lists of metric values, averaged when logged. */
class MetricWindow {
  private readonly values = new Map<string, number[]>();
  add(metrics: Metrics | undefined): void {
    if (!metrics) return;
    for (const [k, v] of Object.entries(metrics)) {
      const list = this.values.get(k);
      if (list) list.push(v);
      else this.values.set(k, [v]);
    }
  }
  /** Every value of `other`, kept one by one (TRL averages per micro-batch, not per step). */
  addAll(other: MetricWindow): void {
    for (const [k, list] of other.values) {
      const mine = this.values.get(k);
      if (mine) mine.push(...list);
      else this.values.set(k, [...list]);
    }
  }
  means(prefix = ""): Metrics {
    const out: Metrics = {};
    for (const [k, list] of this.values) out[prefix + k] = list.reduce((a, b) => a + b, 0) / list.length;
    return out;
  }
}

/** What one optimizer step's micro-batches added up to. */
interface Accumulated {
  loss: number;
  grads: Map<string, Float32Array>;
  metrics: MetricWindow;
  numTokens: number;
}

/** Mutable state of a run. */
interface RunState {
  step: number;
  tokensSeen: number;
  logHistory: Record<string, number>[];
  runLossSum: number;
  runSteps: number;
  evalMetrics: Record<string, number> | null;
  t0: number;
  /** Since the last log: summed step losses, steps, tokens, and seconds spent in those steps (not in evaluation or saving). */
  window: { loss: number; steps: number; tokens: number; seconds: number; metrics: MetricWindow };
  /** Step the run started from (> 0 when resumed). */
  startStep: number;
  /** The first log line (metrics.jsonl, samples.jsonl) that could not be written: the run stops after its step. */
  logFailure: Error | null;
  /** The example order of the current epoch. */
  order: { epoch: number; indices: number[] };
  /** The last preparation's rows and metrics, and the step it was made for (reused stepsPerPreparation times). */
  prepared: { step: number; rows: PreparedStep<unknown> } | null;
}

@injectable()
export class DefaultTrainer<E = unknown, R = E> implements Trainer {
  constructor(
    @inject(Policy) private readonly policy: Policy,
    @inject(Objective) private readonly objective: Objective<E, R>,
    @inject(Optimizer) private readonly optimizer: Optimizer,
    @inject(LrScheduler) private readonly scheduler: LrScheduler,
    @inject(StepPlan) private readonly plan: StepPlan,
    @inject(TrainingArgs) private readonly args: TrainingArguments,
    @inject(TrainDataset) private readonly train: TrainDataset<E>,
    @inject(TrainerEvents) private readonly events: TrainerEvents,
    @inject(EvalDataset) @optional() private readonly evalData?: EvalDataset<E>,
    @inject(TrainingRecord) @optional() private readonly trainingRecord?: TrainingRecord,
  ) {}

  /**
   * @throws TrainingDivergedError on NaN/Inf loss or gradients; Error for empty data, a step with
   *   nothing to train on, or an unusable checkpoint.
   */
  async run(opts: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    const run = await this.begin(opts.signal);
    // Loading and setup may have kept the event loop busy: let a pending stop request (a signal) arrive.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.args.evalOnStart && run.step === 0) await this.evaluateOnStart(run, opts.signal);
    if (run.step === 0) await this.maybeSample(run, true);
    let stopped = false;
    while (run.step < this.plan.maxSteps) {
      if (opts.signal?.aborted || run.logFailure) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const { examples, epoch, first } = this.selectExamples(run, run.step + 1);
      run.step++;
      const prepared = await this.prepare(run, examples, epoch, first);
      const acc = await this.accumulate(prepared.rows, run.step);
      if (prepared.numTokens !== undefined) acc.numTokens = run.step === first ? prepared.numTokens : 0;
      const gradNorm = globalNorm(acc.grads);
      this.stopIfNotFinite(acc.loss, gradNorm, run.step);
      this.clip(acc.grads, gradNorm);
      this.update(acc.grads, run.step);
      this.record(run, acc, prepared.metrics, { epoch, gradNorm, seconds: (performance.now() - t0) / 1000 });
      this.maybeLog(run, epoch, gradNorm);
      await this.maybeEvaluate(run, epoch, opts.signal);
      await this.maybeSample(run);
      await this.maybeSave(run, epoch);
    }
    // A log line that could not be written after the last step: keep a checkpoint rather than the final model.
    if (run.logFailure) stopped = true;
    return this.finish(run, stopped);
  }

  /**
   * Cleans an interrupted run's temporaries, warns when the disk looks too small, objective setup
   * (before any weight is restored), resume from a checkpoint (checked against this run's
   * fingerprint), train_begin.
   */
  private async begin(signal?: AbortSignal): Promise<RunState> {
    const { args, policy, optimizer, plan } = this;
    const examples = this.train.examples;
    if (examples.length === 0) throw new Error("training dataset is empty");
    if (args.evalOnStart && !this.evalData) throw new Error("evalOnStart needs evaluation data (an EvalDataset)");
    const cleaned = removeStaleTemporaries(args.outputDir, isRunOutputName);
    if (cleaned.length) process.emitWarning(`left over by an interrupted run: ${cleaned.join("; ")}`, { code: "ORTRL_STALE_TEMPORARY" });
    const trainableParams = policy.trainable.names.reduce((n, k) => n + policy.trainable.get(k).length, 0);
    const sizes = outputSizes(trainableParams, args.optim === "sgd" ? (args.sgdMomentum > 0 ? 1 : 0) : 2);
    // --save-merged adds a float32 copy of the whole model.
    if (args.saveMerged) sizes.finalModel += policy.lm.params.names.reduce((n, k) => n + policy.lm.params.get(k).length, 0) * 4;
    warnIfLowDisk(args.outputDir, sizes);
    this.fingerprint(); // before objective setup or a restore can change a weight
    await this.objective.setup?.({ args, resuming: args.resumeFromCheckpoint !== null, train: examples, eval: this.evalData?.examples ?? [], signal });
    const run: RunState = {
      step: 0,
      tokensSeen: 0,
      logHistory: [],
      runLossSum: 0,
      runSteps: 0,
      evalMetrics: null,
      t0: performance.now(),
      window: { loss: 0, steps: 0, tokens: 0, seconds: 0, metrics: new MetricWindow() },
      order: { epoch: -1, indices: [] },
      prepared: null,
      startStep: 0,
      logFailure: null,
    };
    this.samplePrompts();
    if (args.resumeFromCheckpoint) this.resume(run, args.resumeFromCheckpoint);
    run.startStep = run.step;
    // A resumed run writes the steps after its checkpoint again: drop them (and a torn last line) from its logs.
    if (run.step > 0) for (const f of STEP_LOGS) reconcileStepLog(join(args.outputDir, f), run.step);
    this.events.emit({
      type: "train_begin",
      maxSteps: plan.maxSteps,
      numTrainEpochs: plan.numEpochs,
      totalTrainBatchSize: args.perDeviceTrainBatchSize * args.gradientAccumulationSteps,
      numExamples: examples.length,
      trainableParams,
      startStep: run.step,
    });
    return run;
  }

  /** This run's fingerprint (computed once, before any weight changes: it describes the starting point). */
  private fingerprint(): RunFingerprint {
    if (this.startFingerprint) return this.startFingerprint;
    const { policy, args } = this;
    const trainable = trainableFingerprint(policy.trainable);
    this.startFingerprint = {
      version: 1,
      model: createHash("sha1").update(JSON.stringify(policy.config)).update(modelFingerprint(policy.lm)).digest("hex"),
      trainable: trainable.hash,
      trainable_summary: trainable.summary,
      data: dataFingerprint(this.train.examples),
      num_examples: this.train.examples.length,
      args: fingerprintArgs(args),
    };
    return this.startFingerprint;
  }
  private startFingerprint: RunFingerprint | null = null;

  /**
   * Before anything is written: checks that `resumeFromCheckpoint` (when set) is a readable checkpoint
   * of this run (see {@link resume}), so that a caller can refuse early, e.g. before clearing an output
   * directory. `run` checks again.
   * @throws Error / ResumeMismatchError as `run` would.
   */
  checkResume(): void {
    this.samplePrompts();
    const dir = this.args.resumeFromCheckpoint;
    if (dir) assertSameRun(dir, this.resumableState(dir).ortrl_fingerprint, this.fingerprint(), this.args.acceptChangedArgs, false);
  }

  /** The prompts of generatePrompts (read once), or null without them. @throws DataError for an unreadable prompt file. */
  private samplePrompts(): string[] | null {
    if (this.prompts === undefined) this.prompts = this.args.generatePrompts ? readSamplePrompts(this.args.generatePrompts) : null;
    return this.prompts;
  }
  private prompts: string[] | null | undefined;

  /** trainer_state.json of a checkpoint this run can continue (not past max_steps). */
  private resumableState(dir: string): TrainerState {
    if (!existsSync(dir)) throw new Error(`checkpoint ${dir} does not exist`);
    const state = readTrainerState(dir);
    if (state.global_step > this.plan.maxSteps) throw new Error(`checkpoint ${dir} is at step ${state.global_step}, past max_steps ${this.plan.maxSteps}; raise max_steps (--max-steps) to train further`);
    return state;
  }

  /**
   * Restores weights, optimizer state and counters from a checkpoint of this run. A checkpoint at
   * max_steps (a run whose final save failed) leaves nothing to train: `finish` writes the final model.
   * @throws Error for a missing or malformed checkpoint, one past max_steps, or one of another run
   *   (model, trainable tensors, data or arguments differ; see {@link assertSameRun}).
   */
  private resume(run: RunState, dir: string): void {
    const { args, plan } = this;
    const state = this.resumableState(dir);
    this.policy.restore(dir);
    const changed = assertSameRun(dir, state.ortrl_fingerprint, this.fingerprint(), args.acceptChangedArgs);
    if (changed.length) process.emitWarning(`resuming ${dir} with changed arguments: ${changed.map((d) => d.what).join("; ")}`, { code: "ORTRL_RESUME_CHANGED" });
    this.optimizer.loadStateDict(readOptimizerState(dir, state.global_step));
    run.step = state.global_step;
    run.tokensSeen = state.num_input_tokens_seen;
    run.logHistory = state.log_history;
    if (typeof state.ortrl_train_loss_sum === "number") {
      run.runLossSum = state.ortrl_train_loss_sum;
      run.runSteps = run.step;
    }
    if (run.step === plan.maxSteps) {
      process.emitWarning(`checkpoint ${dir} is at max_steps ${plan.maxSteps}: nothing left to train, writing the final model`, { code: "ORTRL_RESUME_AT_END" });
      const lastEval = [...run.logHistory].reverse().find((h) => h.step === run.step && h.eval_loss !== undefined);
      if (lastEval) run.evalMetrics = Object.fromEntries(Object.entries(lastEval).filter(([k]) => k !== "step" && k !== "epoch"));
    }
  }

  /**
   * The examples of optimizer step `step` (1-based): a slice of its epoch's shuffled order, the same
   * for the stepsPerPreparation steps that share a preparation (`first` = the first of them).
   */
  private selectExamples(run: RunState, step: number): { examples: E[]; epoch: number; first: number } {
    const { plan, args } = this;
    const k = plan.stepsPerPreparation;
    const epochIndex = Math.floor((step - 1) / plan.stepsPerEpoch);
    const inEpoch = Math.floor(((step - 1) % plan.stepsPerEpoch) / k);
    if (run.order.epoch !== epochIndex) run.order = { epoch: epochIndex, indices: epochOrder(this.train.examples.length, args.seed, epochIndex, args.shuffle) };
    const idx = run.order.indices.slice(inEpoch * plan.examplesPerStep, (inEpoch + 1) * plan.examplesPerStep);
    const epoch = epochIndex + ((step - 1) % plan.stepsPerEpoch + 1) / plan.stepsPerEpoch;
    return { examples: idx.map((i) => this.train.examples[i]!), epoch, first: step - ((step - 1) % k) };
  }

  /**
   * The objective's rollout phase (identity when it has none), run at the first step of each
   * preparation and reused for the next stepsPerPreparation - 1 steps. (A run resumed between two
   * such steps prepares again from the restored weights.)
   */
  private async prepare(run: RunState, examples: E[], epoch: number, first: number): Promise<PreparedStep<R>> {
    if (!this.objective.prepareStep) return { rows: examples as unknown as R[] };
    if (run.prepared?.step === first) return { rows: run.prepared.rows.rows as R[], numTokens: run.prepared.rows.numTokens }; // metrics were recorded with the first step
    try {
      const p = await this.objective.prepareStep(examples, { step: run.step, epoch, rng: new Rng(stepSeed(this.args.seed ^ 0x5bd1e995, first)) });
      run.prepared = { step: first, rows: p };
      return p;
    } catch (e) {
      throw this.fail(run.step, e as Error);
    }
  }

  /** Forward/backward of every micro-batch of the step, normalised by the items of the whole step. */
  private async accumulate(rows: R[], step: number): Promise<Accumulated> {
    const B = this.args.perDeviceTrainBatchSize;
    const numItems = rows.reduce((n, r) => n + this.objective.countItems(r), 0);
    if (numItems === 0) {
      throw this.fail(step, new Error(`optimizer step ${step}: its ${rows.length} rows have nothing to train on (every label is -100 / no scored item); check the dataset's loss masking`));
    }
    const rng = new Rng(stepSeed(this.args.seed, step));
    const acc: Accumulated = { loss: 0, grads: new Map(), metrics: new MetricWindow(), numTokens: 0 };
    let lossSum = 0;
    for (let i = 0; i < rows.length; i += B) {
      const r = await this.objective.microStep(rows.slice(i, i + B), numItems, rng);
      lossSum += r.lossSum;
      acc.numTokens += r.numTokens ?? 0;
      acc.metrics.add(r.metrics);
      if (acc.grads.size === 0) acc.grads = r.grads;
      else for (const [n, g] of r.grads) addInto(acc.grads.get(n)!, g);
    }
    acc.loss = lossSum / numItems;
    return acc;
  }

  /** A NaN/Inf loss or gradient stops the run before the parameters change. */
  private stopIfNotFinite(loss: number, gradNorm: number, step: number): void {
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) return;
    const last = listCheckpoints(this.args.outputDir).at(-1);
    const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`;
    throw this.fail(
      step,
      new TrainingDivergedError(`training stopped at step ${step}: ${what}; parameters were not updated. ${last ? `Last good checkpoint: ${last.path}` : "No checkpoint was written yet"}. Lower the learning rate or check the data.`),
    );
  }

  /** Global-norm clipping in place, given the norm before clipping. */
  private clip(grads: Map<string, Float32Array>, norm: number): void {
    const max = this.args.maxGradNorm;
    if (max > 0 && norm > max) {
      const coef = max / (norm + 1e-6);
      for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  }

  /** One optimizer step at the scheduled rate of step `step` (1-based): factor(step - 1). */
  private update(grads: Map<string, Float32Array>, step: number): void {
    this.optimizer.step(this.policy.trainable, grads, this.scheduler.factor(step - 1));
  }

  /** The `learning_rate` logged for step `step`, as transformers: the main group's rate after its scheduler step (the next step's rate). */
  private loggedLr(step: number): number {
    return this.baseLr() * this.scheduler.factor(step);
  }

  private baseLr(): number {
    return this.optimizer.groups[0]?.lr ?? this.args.learningRate;
  }

  /** Adds the step to the run and logging window; emits step_end (the keys and values of a log of this step alone). */
  private record(run: RunState, acc: Accumulated, prepMetrics: Metrics | undefined, s: { epoch: number; gradNorm: number; seconds: number }): void {
    run.tokensSeen += acc.numTokens;
    run.runLossSum += acc.loss;
    run.runSteps++;
    run.window.loss += acc.loss;
    run.window.steps++;
    run.window.tokens += acc.numTokens;
    run.window.seconds += s.seconds;
    const stepMetrics = new MetricWindow();
    stepMetrics.add(prepMetrics);
    stepMetrics.addAll(acc.metrics);
    run.window.metrics.addAll(stepMetrics);
    this.events.emit({
      type: "step_end",
      step: run.step,
      metrics: {
        loss: acc.loss,
        grad_norm: s.gradNorm,
        learning_rate: this.loggedLr(run.step),
        ...stepMetrics.means(),
        epoch: s.epoch,
        num_tokens: run.tokensSeen,
        train_tokens_per_second: acc.numTokens / s.seconds,
      },
    });
  }

  /** Every loggingSteps steps (and at the last): the window's means, TRL's keys. */
  private maybeLog(run: RunState, epoch: number, gradNorm: number): void {
    if (run.step % this.args.loggingSteps !== 0 && run.step !== this.plan.maxSteps) return;
    const w = run.window;
    const metrics = {
      loss: w.loss / w.steps,
      grad_norm: gradNorm,
      learning_rate: this.loggedLr(run.step),
      ...w.metrics.means(),
      epoch,
      num_tokens: run.tokensSeen,
      train_tokens_per_second: w.tokens / w.seconds,
    };
    run.logHistory.push({ ...metrics, step: run.step });
    this.writeLog(run, "metrics.jsonl", { step: run.step, ...metrics });
    this.events.emit({ type: "log", step: run.step, metrics });
    run.window = { loss: 0, steps: 0, tokens: 0, seconds: 0, metrics: new MetricWindow() };
  }

  /** Appends a line to a log of outputDir; the first failure is kept (the run stops after this step), later lines are not attempted. */
  private writeLog(run: RunState, file: string, record: object): void {
    if (run.logFailure) return;
    try {
      appendStepLog(join(this.args.outputDir, file), record);
    } catch (e) {
      run.logFailure = e as Error;
    }
  }

  /**
   * At step 0 (before training, for a run not resumed), every generateEvery steps and at the last (when
   * generatePrompts is set): greedy completions of the prompts, formatted as the run trains (its TrainingRecord), by
   * the current weights, appended to samples.jsonl and emitted as a `samples` event.
   */
  private async maybeSample(run: RunState, atStart = false): Promise<void> {
    const prompts = this.samplePrompts();
    const every = this.args.generateEvery;
    // Step 0 (a run starting from scratch) gives the "before" samples.
    if (!prompts || !(atStart || (every !== null && run.step % every === 0) || run.step === this.plan.maxSteps)) return;
    let completions: string[];
    try {
      completions = await generateSamples(this.policy, prompts, { maxNewTokens: this.args.generateMaxNewTokens, batchSize: this.args.perDeviceEvalBatchSize, record: this.trainingRecord });
    } catch (e) {
      throw this.fail(run.step, e as Error);
    }
    const samples = prompts.map((prompt, i) => ({ prompt, completion: completions[i]! }));
    for (const sample of samples) this.writeLog(run, SAMPLES_FILE, { step: run.step, ...sample });
    this.events.emit({ type: "samples", step: run.step, samples });
  }

  /**
   * evalOnStart (TRL's eval_on_start): the starting model's evaluation, logged at step 0 (epoch 0) like every other
   * evaluation. Only a run starting at step 0 does it; a resumed one does not repeat it.
   */
  private async evaluateOnStart(run: RunState, signal?: AbortSignal): Promise<void> {
    const metrics = await this.evaluate(signal);
    if (!metrics) return;
    run.evalMetrics = metrics;
    run.logHistory.push({ ...metrics, epoch: 0, step: 0 });
    this.writeLog(run, "metrics.jsonl", { step: 0, ...metrics });
    this.events.emit({ type: "evaluate", step: 0, metrics });
  }

  /** Evaluates every evalSteps steps and at the last; a stop request abandons an evaluation in progress. */
  private async maybeEvaluate(run: RunState, epoch: number, signal?: AbortSignal): Promise<void> {
    const { evalSteps } = this.args;
    if (!this.evalData || !((evalSteps !== null && run.step % evalSteps === 0) || run.step === this.plan.maxSteps)) return;
    const metrics = await this.evaluate(signal);
    if (!metrics) return;
    run.evalMetrics = metrics;
    run.logHistory.push({ ...run.evalMetrics, epoch, step: run.step });
    this.writeLog(run, "metrics.jsonl", { step: run.step, ...metrics });
    this.events.emit({ type: "evaluate", step: run.step, metrics: run.evalMetrics });
  }

  private async maybeSave(run: RunState, epoch: number): Promise<void> {
    if (this.args.saveSteps > 0 && run.step % this.args.saveSteps === 0) await this.checkpoint(run, epoch);
  }

  /** @throws Error naming what could not be written and the last complete checkpoint to resume from. */
  private async checkpoint(run: RunState, epoch: number): Promise<void> {
    let path: string;
    try {
      path = await saveCheckpoint(this.args.outputDir, this.policy, this.optimizer, this.state(run, epoch), this.args.saveTotalLimit);
    } catch (e) {
      const last = listCheckpoints(this.args.outputDir).at(-1);
      const msg = e instanceof Error ? e.message : String(e);
      throw this.fail(run.step, new Error(`${msg}; ${last ? `the last complete checkpoint is ${last.path}: resume with --resume-from-checkpoint ${last.path}` : "no checkpoint was written before"}`, { cause: e }));
    }
    this.events.emit({ type: "save", step: run.step, path, final: false });
  }

  /** The final model (or, when stopped, a checkpoint of the last step) and train_end. */
  private async finish(run: RunState, stopped: boolean): Promise<TrainResult> {
    if (stopped) {
      const ckpt = listCheckpoints(this.args.outputDir).at(-1);
      if (run.step > 0 && ckpt?.step !== run.step) await this.checkpoint(run, run.step / this.plan.stepsPerEpoch);
    } else if (this.plan.maxSteps > 0) {
      await this.saveFinal(run);
    } // maxSteps 0 (with evalOnStart): nothing was trained, so no model is written

    if (run.logFailure) {
      const last = listCheckpoints(this.args.outputDir).at(-1);
      throw this.fail(run.step, new Error(`${run.logFailure.message}; training stopped after step ${run.step}${last?.step === run.step ? ` (checkpoint ${last.path})` : ""}`, { cause: run.logFailure }));
    }

    const runtime = (performance.now() - run.t0) / 1000;
    const trainLoss = run.runSteps ? run.runLossSum / run.runSteps : NaN;
    const trained = run.step - run.startStep;
    const metrics = {
      global_step: run.step,
      train_loss: trainLoss,
      train_runtime: runtime,
      train_samples_per_second: (trained * this.plan.examplesPerStep) / runtime,
      train_steps_per_second: trained / runtime,
      num_tokens: run.tokensSeen,
      epoch: run.step / this.plan.stepsPerEpoch,
    };
    this.events.emit({ type: "train_end", step: run.step, metrics });
    return { globalStep: run.step, trainLoss, logHistory: run.logHistory, evalMetrics: run.evalMetrics, stopped, metrics };
  }

  /**
   * Writes the final model ({@link saveFinalModel}) and, when bound, the training record beside it
   * ({@link writeTrainingRecord}: ortrl_training.json, chat_template.jinja), then with `saveMerged` the adapter merged into the base model
   * in `outputDir/merged` ({@link saveMergedModel}, float32). When the final model cannot be written, the trained
   * state is kept as a checkpoint of the last step, in outputDir or else in the OS temporary directory, so that
   * `resumeFromCheckpoint` can write the final model later.
   * @throws Error naming what could not be written and where the trained state is (for the merged model: that the
   *   adapter is complete and `ortrl merge` can write it).
   */
  private async saveFinal(run: RunState): Promise<void> {
    const { outputDir } = this.args;
    try {
      await saveFinalModel(outputDir, this.policy);
      if (this.trainingRecord) writeTrainingRecord(outputDir, this.trainingRecord); // how it was trained, beside it (training-record.ts)
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const kept = await this.keepTrainedState(run);
      throw this.fail(
        run.step,
        new Error(
          kept
            ? `${msg}; the trained state of step ${run.step} is in ${kept}: once the problem is fixed, --resume-from-checkpoint ${kept} writes the final model`
            : `${msg}; no checkpoint of step ${run.step} could be written either, so the steps since the last checkpoint are lost`,
          { cause: e },
        ),
      );
    }
    this.events.emit({ type: "save", step: run.step, path: outputDir, final: true });
    if (this.args.saveMerged) await this.saveMerged(run);
  }

  /**
   * Writes `outputDir/merged`: the final adapter merged into the base weights (float32), with the tokenizer files the
   * final save put in outputDir. An earlier merged model there (a run that resumed a finished checkpoint) is replaced.
   * @throws Error naming the cause, the complete adapter and the command that writes the merged model.
   */
  private async saveMerged(run: RunState): Promise<void> {
    const { outputDir } = this.args;
    const dir = join(outputDir, MERGED_DIR);
    if (!this.policy.adapter) throw this.fail(run.step, new Error(`saveMerged ${SAVE_MERGED_NEEDS_LORA}`));
    try {
      await saveMergedModel(dir, { lm: this.policy.lm, config: this.policy.config, tokenizerFrom: outputDir, overwrite: true });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const hint = `the final adapter of step ${run.step} is complete in ${outputDir}: \`ortrl merge --model BASE --adapter ${outputDir} --output-dir ${dir}\` writes the merged model`;
      throw this.fail(run.step, new Error(`${msg}; ${hint}`, { cause: e }));
    }
  }

  /** A checkpoint of the last step: the existing one, a new one in outputDir, or one in the OS temporary directory; null when none could be written. */
  private async keepTrainedState(run: RunState): Promise<string | null> {
    const epoch = run.step / this.plan.stepsPerEpoch;
    const last = listCheckpoints(this.args.outputDir).at(-1);
    if (last?.step === run.step) return last.path;
    const rescue = join(tmpdir(), `ortrl-rescue-${basename(this.args.outputDir)}-${process.pid}`);
    for (const dir of [this.args.outputDir, rescue]) {
      try {
        return await saveCheckpoint(dir, this.policy, this.optimizer, this.state(run, epoch), null);
      } catch (e) {
        process.emitWarning(`could not write a checkpoint into ${dir}: ${describeErrno(e)}`, { code: "ORTRL_SAVE_FAILED" });
      }
    }
    removeQuietly(rescue);
    return null;
  }

  private state(run: RunState, epoch: number): TrainerState {
    const { args, plan } = this;
    return {
      global_step: run.step,
      epoch,
      max_steps: plan.maxSteps,
      num_train_epochs: plan.numEpochs,
      logging_steps: args.loggingSteps,
      eval_steps: args.evalSteps,
      save_steps: args.saveSteps,
      train_batch_size: args.perDeviceTrainBatchSize,
      num_input_tokens_seen: run.tokensSeen,
      seed: args.seed,
      log_history: run.logHistory,
      ortrl_fingerprint: this.fingerprint(),
      ortrl_train_loss_sum: run.runLossSum,
    };
  }

  /**
   * eval_loss (total item loss / items), `eval_<key>` for the objective's metrics (means over batches),
   * perplexity and eval_tokens for token-NLL objectives, eval_runtime (seconds).
   * @param signal when it aborts between two batches, the evaluation stops and returns null.
   * @throws Error when there is no evaluation data or it has no items.
   */
  async evaluate(signal: AbortSignal | undefined): Promise<Record<string, number> | null>;
  async evaluate(): Promise<Record<string, number>>;
  async evaluate(signal?: AbortSignal): Promise<Record<string, number> | null> {
    const data = this.evalData?.examples;
    if (!data || data.length === 0) throw new Error("evaluation dataset is empty");
    const t0 = performance.now();
    let lossSum = 0;
    let count = 0;
    const metrics = new MetricWindow();
    for (let i = 0; i < data.length; i += this.args.perDeviceEvalBatchSize) {
      if (signal?.aborted) return null;
      const r = await this.objective.evalStep(data.slice(i, i + this.args.perDeviceEvalBatchSize));
      lossSum += r.lossSum;
      count += r.count;
      metrics.add(r.metrics);
    }
    if (count === 0) throw new Error("evaluation dataset has no items to score (every label is -100)");
    const evalLoss = lossSum / count;
    const out: Record<string, number> = { eval_loss: evalLoss };
    if (this.objective.tokenNll) Object.assign(out, { perplexity: Math.exp(evalLoss), eval_tokens: count });
    Object.assign(out, metrics.means("eval_"), { eval_runtime: (performance.now() - t0) / 1000 });
    return out;
  }

  private fail(step: number, error: Error): Error {
    this.events.emit({ type: "error", step, error });
    return error;
  }
}

function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
}

/** sqrt of the sum of squares of every gradient entry (float64 accumulation). */
export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}
