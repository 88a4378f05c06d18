/**
 * The training loop shared by gradient-based methods. Read top to bottom:
 * plan steps -> (resume) -> for each optimizer step: run its micro-batches, accumulate gradients,
 * check for NaN/Inf, clip, update, emit events, log / evaluate / save -> final evaluation and model.
 *
 * Semantics follow transformers.Trainer: steps per epoch = ceil(micro-batches / accumulation),
 * maxSteps overrides epochs, the loss of a step is the mean over all its label tokens (gradient
 * accumulation is exact), `loss` logs average the step losses since the last log, `grad_norm` is the
 * pre-clipping global norm, and the schedule multiplier for step k (1-based) is factor(k - 1); the
 * logged `learning_rate` is factor(k) (transformers logs after stepping its scheduler), while
 * `step_end.learningRate` is the rate step k applied.
 */
import { existsSync } from "node:fs";
import { inject, injectable, optional } from "inversify";
import { listCheckpoints, readCheckpoint, saveCheckpoint, type TrainerState } from "./checkpoint.js";
import type { TrainingArguments } from "./args.js";
import { type TokenizedExample, epochOrder, microBatches } from "./examples.js";
import { Optimizer } from "../optim/optimizer.js";
import { EvalDataset, LrScheduler, Objective, Policy, TrainDataset, TrainerEvents, TrainingArgs } from "./seams.js";
import { Rng } from "../util/rng.js";

/** Thrown when a loss or gradient becomes NaN/Inf; parameters are left at the last good step. */
export class TrainingDivergedError extends Error {
  override name = "TrainingDivergedError";
}

export interface TrainResult {
  globalStep: number;
  /** Mean of the step losses of this run. */
  trainLoss: number;
  logHistory: Record<string, number>[];
  /** Metrics of the last evaluation, if any. */
  evalMetrics: Record<string, number> | null;
  /** True when the run was aborted before maxSteps (a checkpoint of the last step was saved). */
  stopped: boolean;
}

/** How many optimizer steps a run takes. */
export interface StepPlan {
  microBatchesPerEpoch: number;
  stepsPerEpoch: number;
  maxSteps: number;
  numEpochs: number;
}

export function planSteps(numExamples: number, args: TrainingArguments): StepPlan {
  if (numExamples === 0) throw new Error("training dataset is empty");
  const microBatchesPerEpoch = Math.ceil(numExamples / args.perDeviceTrainBatchSize);
  const stepsPerEpoch = Math.ceil(microBatchesPerEpoch / args.gradientAccumulationSteps);
  const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * stepsPerEpoch);
  return { microBatchesPerEpoch, stepsPerEpoch, maxSteps, numEpochs: Math.ceil(maxSteps / stepsPerEpoch) };
}

const stepSeed = (seed: number, step: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + step * 40503) >>> 0;

@injectable()
export class DefaultTrainer {
  constructor(
    @inject(Policy) private readonly policy: Policy,
    @inject(Objective) private readonly objective: Objective,
    @inject(Optimizer) private readonly optimizer: Optimizer,
    @inject(LrScheduler) private readonly scheduler: LrScheduler,
    @inject(TrainingArgs) private readonly args: TrainingArguments,
    @inject(TrainDataset) private readonly train: TrainDataset,
    @inject(TrainerEvents) private readonly events: TrainerEvents,
    @inject(EvalDataset) @optional() private readonly evalData?: EvalDataset,
  ) {}

  /**
   * Trains until maxSteps, or until `signal` aborts (checked between optimizer steps: the run then
   * saves a checkpoint of the last completed step and returns with `stopped: true`).
   * @throws TrainingDivergedError on NaN/Inf loss or gradients; Error for empty data or all-masked labels.
   */
  async run(opts: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    const { args, policy, objective, optimizer, events } = this;
    const examples = this.train.examples;
    const plan = planSteps(examples.length, args);
    const items = examples.map((e) => objective.countItems(e));
    let step = 0;
    let tokensSeen = 0;
    let logHistory: Record<string, number>[] = [];
    if (args.resumeFromCheckpoint) {
      if (!existsSync(args.resumeFromCheckpoint)) throw new Error(`checkpoint ${args.resumeFromCheckpoint} does not exist`);
      const ck = readCheckpoint(args.resumeFromCheckpoint);
      if (ck.state.global_step >= plan.maxSteps) {
        throw new Error(`checkpoint ${args.resumeFromCheckpoint} is at step ${ck.state.global_step}, already at or past max_steps ${plan.maxSteps}; raise maxSteps (--max-steps) to train further`);
      }
      policy.restore(args.resumeFromCheckpoint);
      optimizer.loadStateDict(ck.optimizer);
      step = ck.state.global_step;
      tokensSeen = ck.state.num_input_tokens_seen;
      logHistory = ck.state.log_history;
    }
    const trainableParams = policy.trainable.names.reduce((n, k) => n + policy.trainable.get(k).length, 0);
    events.emit({
      type: "train_begin",
      maxSteps: plan.maxSteps,
      numTrainEpochs: plan.numEpochs,
      totalTrainBatchSize: args.perDeviceTrainBatchSize * args.gradientAccumulationSteps,
      numExamples: examples.length,
      trainableParams,
      startStep: step,
    });

    const t0 = performance.now();
    let runLossSum = 0;
    let runSteps = 0;
    let window = { loss: 0, steps: 0, tokens: 0, t: performance.now() };
    let evalMetrics: Record<string, number> | null = null;
    let orderEpoch = -1;
    let epochBatches: number[][] = [];
    const state = (epoch: number): TrainerState => ({
      global_step: step,
      epoch,
      max_steps: plan.maxSteps,
      num_train_epochs: plan.numEpochs,
      logging_steps: args.loggingSteps,
      eval_steps: args.evalSteps,
      save_steps: args.saveSteps,
      train_batch_size: args.perDeviceTrainBatchSize,
      num_input_tokens_seen: tokensSeen,
      seed: args.seed,
      log_history: logHistory,
    });

    let stopped = false;
    while (step < plan.maxSteps) {
      if (opts.signal?.aborted) {
        stopped = true;
        break;
      }
      const epochIndex = Math.floor(step / plan.stepsPerEpoch);
      const inEpoch = step % plan.stepsPerEpoch;
      if (epochIndex !== orderEpoch) {
        epochBatches = microBatches(epochOrder(examples.length, args.seed, epochIndex, args.shuffle), args.perDeviceTrainBatchSize);
        orderEpoch = epochIndex;
      }
      const micro = epochBatches.slice(inEpoch * args.gradientAccumulationSteps, (inEpoch + 1) * args.gradientAccumulationSteps);
      step++;
      const epoch = epochIndex + (inEpoch + 1) / plan.stepsPerEpoch;

      // Forward/backward of every micro-batch, normalised by the label tokens of the whole step.
      const numItems = micro.flat().reduce((n, i) => n + items[i]!, 0);
      if (numItems === 0) {
        throw this.fail(step, new Error(`optimizer step ${step}: every label of its ${micro.flat().length} examples is -100 (nothing to train on); check the dataset's loss masking`));
      }
      const rng = new Rng(stepSeed(args.seed, step));
      let lossSum = 0;
      let grads: Map<string, Float32Array> | null = null;
      let stepTokens = 0;
      for (const idx of micro) {
        const batch: TokenizedExample[] = idx.map((i) => examples[i]!);
        stepTokens += batch.reduce((n, e) => n + e.inputIds.length, 0);
        const r = await objective.microStep(batch, numItems, rng);
        lossSum += r.lossSum;
        if (!grads) grads = r.grads;
        else for (const [n, g] of r.grads) addInto(grads.get(n)!, g);
      }
      const loss = lossSum / numItems;
      const gradNorm = globalNorm(grads!);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const last = listCheckpoints(args.outputDir).at(-1);
        const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`;
        throw this.fail(step, new TrainingDivergedError(`training stopped at step ${step}: ${what}; parameters were not updated. ${last ? `Last good checkpoint: ${last.path}` : "No checkpoint was written yet"}. Lower the learning rate or check the data.`));
      }
      if (args.maxGradNorm > 0 && gradNorm > args.maxGradNorm) {
        const coef = args.maxGradNorm / (gradNorm + 1e-6);
        for (const g of grads!.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
      }
      const factor = this.scheduler.factor(step - 1);
      optimizer.step(policy.trainable, grads!, factor);
      // The rate of the optimizer's first group (the main one), whatever optimizer is bound.
      const baseLr = optimizer.groups[0]?.lr ?? args.learningRate;
      const learningRate = baseLr * factor;
      tokensSeen += stepTokens;
      runLossSum += loss;
      runSteps++;
      events.emit({ type: "step_end", step, epoch, loss, gradNorm, learningRate, numTokens: stepTokens });

      window.loss += loss;
      window.steps++;
      window.tokens += stepTokens;
      if (step % args.loggingSteps === 0 || step === plan.maxSteps) {
        const seconds = (performance.now() - window.t) / 1000;
        const metrics = {
          loss: window.loss / window.steps,
          grad_norm: gradNorm,
          // As transformers: the rate after this step's scheduler step, i.e. the next step's rate.
          learning_rate: baseLr * this.scheduler.factor(step),
          epoch,
          num_tokens: tokensSeen,
          train_tokens_per_second: window.tokens / seconds,
        };
        logHistory.push({ ...metrics, step });
        events.emit({ type: "log", step, metrics });
        window = { loss: 0, steps: 0, tokens: 0, t: performance.now() };
      }
      const last = step === plan.maxSteps;
      if (this.evalData && ((args.evalSteps !== null && step % args.evalSteps === 0) || last)) {
        evalMetrics = await this.evaluate();
        logHistory.push({ ...evalMetrics, epoch, step });
        events.emit({ type: "evaluate", step, metrics: evalMetrics });
      }
      if (args.saveSteps > 0 && step % args.saveSteps === 0) {
        const path = await saveCheckpoint(args.outputDir, policy, optimizer, state(epoch), args.saveTotalLimit);
        events.emit({ type: "save", step, path, final: false });
      }
    }

    if (stopped) {
      const ckpt = listCheckpoints(args.outputDir).at(-1);
      if (step > 0 && ckpt?.step !== step) {
        const path = await saveCheckpoint(args.outputDir, policy, optimizer, state(step / plan.stepsPerEpoch), args.saveTotalLimit);
        events.emit({ type: "save", step, path, final: false });
      }
    } else {
      await policy.save(args.outputDir);
      events.emit({ type: "save", step, path: args.outputDir, final: true });
    }
    const runtime = (performance.now() - t0) / 1000;
    const trainLoss = runSteps ? runLossSum / runSteps : NaN;
    events.emit({
      type: "train_end",
      step,
      metrics: { train_runtime: runtime, train_loss: trainLoss, train_steps_per_second: runSteps / runtime, num_tokens: tokensSeen },
    });
    return { globalStep: step, trainLoss, logHistory, evalMetrics, stopped };
  }

  /** eval_loss (mean over label tokens), perplexity, eval_tokens, eval_runtime. */
  async evaluate(): Promise<Record<string, number>> {
    const data = this.evalData!.examples;
    if (data.length === 0) throw new Error("evaluation dataset is empty");
    const t0 = performance.now();
    let lossSum = 0;
    let count = 0;
    for (let i = 0; i < data.length; i += this.args.perDeviceEvalBatchSize) {
      const r = await this.objective.evalStep(data.slice(i, i + this.args.perDeviceEvalBatchSize));
      lossSum += r.lossSum;
      count += r.count;
    }
    if (count === 0) throw new Error("evaluation dataset has no label tokens");
    const evalLoss = lossSum / count;
    return { eval_loss: evalLoss, perplexity: Math.exp(evalLoss), eval_tokens: count, eval_runtime: (performance.now() - t0) / 1000 };
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
