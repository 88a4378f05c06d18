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
export interface StepEndEvent {
  type: "step_end";
  step: number;
  epoch: number;
  /** Mean loss over this step's label tokens. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate applied in this step (the main group's). */
  learningRate: number;
  /** Non-padding input tokens of this step. */
  numTokens: number;
  /** This step's method metrics (TRL keys, e.g. `rewards/chosen`): means over its micro-batches. */
  metrics: Readonly<Record<string, number>>;
}
/** Logged metrics: loss, grad_norm, learning_rate, the method's metrics (TRL keys), epoch, num_tokens, train_tokens_per_second. */
export interface LogEvent {
  type: "log";
  step: number;
  metrics: Readonly<Record<string, number>>;
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

export type TrainerEvent = TrainBeginEvent | StepEndEvent | LogEvent | EvaluateEvent | SaveEvent | TrainEndEvent | ErrorEvent;
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
    this.subject.next(Object.freeze(event));
  }

  complete(): void {
    this.subject.complete();
  }
}
