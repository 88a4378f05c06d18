/**
 * Training events: one typed, ordered union. Events are facts about what happened (frozen objects);
 * subscribers observe and cannot steer training. Metric keys are spelled as in transformers/TRL logs.
 */
import { type Observable, type OperatorFunction, Subject, config as rxConfig, filter } from "rxjs";

export interface TrainBeginEvent {
  type: "train_begin";
  maxSteps: number;
  numTrainEpochs: number;
  /** Rows per optimizer step (perDeviceTrainBatchSize * gradientAccumulationSteps). */
  totalTrainBatchSize: number;
  numExamples: number;
  trainableParams: number;
  /** Step the run starts from (> 0 when resumed). */
  startStep: number;
}
/**
 * One optimizer step: its metrics, under the keys and with the values a `log` event of that step has when
 * loggingSteps is 1 (TRL's keys): `loss` (the step's mean item loss), `grad_norm` (global norm before
 * clipping), `learning_rate` (as transformers logs it: the rate after this step's scheduler step, i.e. the
 * rate of step + 1), the method's metrics (e.g. `rewards/chosen`: means over the step's micro-batches),
 * `epoch`, `num_tokens` (input tokens seen by the run so far, TRL's `num_input_tokens_seen`) and
 * `train_tokens_per_second` (this step's tokens over its time).
 */
export interface StepEndEvent {
  type: "step_end";
  step: number;
  metrics: Readonly<Record<string, number>>;
}
/**
 * Logged metrics, every loggingSteps steps and at the last (the line metrics.jsonl gets): `loss` (mean of the
 * step losses since the last log), `grad_norm` (the last step's), `learning_rate` (the same value as that
 * step's step_end: the rate after its scheduler step), the method's metrics (TRL keys, means since the last
 * log), `epoch`, `num_tokens`, `train_tokens_per_second` (tokens over the training time of those steps).
 */
export interface LogEvent {
  type: "log";
  step: number;
  metrics: Readonly<Record<string, number>>;
}
/** Greedy completions of the `generatePrompts` prompts by the current weights (every generateEvery steps and at the end; samples.jsonl). */
export interface SamplesEvent {
  type: "samples";
  step: number;
  samples: readonly Readonly<{ prompt: string; completion: string }>[];
}
/** Evaluation metrics: eval_loss, eval_<metric> (TRL keys), perplexity and eval_tokens for token-NLL objectives, eval_runtime. */
export interface EvaluateEvent {
  type: "evaluate";
  step: number;
  metrics: Readonly<Record<string, number>>;
}
export interface SaveEvent {
  type: "save";
  step: number;
  /** Directory written (a checkpoint-N folder, or outputDir for the final model). */
  path: string;
  final: boolean;
}
/**
 * The run's summary, TRL's `TrainOutput.metrics` keys: `global_step`, `train_loss` (mean step loss of every step,
 * resumed runs included), `train_runtime` (seconds of this process), `train_samples_per_second` and
 * `train_steps_per_second` (steps trained by this process), `num_tokens`, `epoch`. The same object as
 * TrainResult.metrics and the CLI's result line.
 */
export interface TrainEndEvent {
  type: "train_end";
  step: number;
  metrics: Readonly<Record<string, number>>;
}
export interface ErrorEvent {
  type: "error";
  step: number;
  error: Error;
}

export type TrainerEvent = TrainBeginEvent | StepEndEvent | LogEvent | SamplesEvent | EvaluateEvent | SaveEvent | TrainEndEvent | ErrorEvent;
export type TrainerEventType = TrainerEvent["type"];

/** Narrows an event stream to one event type: `events$.pipe(ofType("log"))`. */
export function ofType<K extends TrainerEventType>(type: K): OperatorFunction<TrainerEvent, Extract<TrainerEvent, { type: K }>> {
  return filter((e): e is Extract<TrainerEvent, { type: K }> => e.type === type);
}

/** The typed event stream of a run (a seam; see seams.ts). */
export const TrainerEvents = Symbol.for("ortrl.TrainerEvents");
export interface TrainerEvents {
  readonly events$: Observable<TrainerEvent>;
  emit(event: TrainerEvent): void;
}

/**
 * The default TrainerEvents: a private Subject exposed as `events$`; emitted events are frozen. A
 * subscriber that throws does not stop training (rxjs would rethrow it asynchronously and crash the
 * process): unless the application set rxjs' `config.onUnhandledError`, it becomes a warning.
 */
export class EventBus implements TrainerEvents {
  constructor() {
    rxConfig.onUnhandledError ??= (err: unknown) =>
      process.emitWarning(`a training-event subscriber threw (training continues): ${err instanceof Error ? err.message : String(err)}`, { code: "ORTRL_SUBSCRIBER_ERROR" });
  }

  private readonly subject = new Subject<TrainerEvent>();
  readonly events$: Observable<TrainerEvent> = this.subject.asObservable();

  emit(event: TrainerEvent): void {
    if ("metrics" in event) Object.freeze(event.metrics);
    if ("samples" in event) for (const s of event.samples) Object.freeze(s);
    if ("samples" in event) Object.freeze(event.samples);
    this.subject.next(Object.freeze(event));
  }

  complete(): void {
    this.subject.complete();
  }
}
