/**
 * The plugin contract and the core container.
 *
 * A method plugin is its config schema (one declaration per field: type, default, check, doc; see
 * config/schema.ts) plus an inversify ContainerModule factory. Loading is explicit in code:
 *
 *   const config = dpoPlugin.resolve({ outputDir, dataFiles: ["pairs.jsonl"] });
 *   const container = createTrainingContainer({ policy, args: config });
 *   await container.load(dpoPlugin.module(config));
 *   container.rebindSync(Optimizer).toConstantValue(myOptimizer);   // optional: replace a seam
 *   const result = await container.get<Trainer>(Trainer).run();
 *
 * Core binds: TrainingArgs, Policy, TrainerEvents (an EventBus), Optimizer (AdamW/SGD from the args),
 * StepPlan (from the args and the training set size), LrScheduler (from the args and the StepPlan),
 * Sampler (generation from the policy), ReferenceModel (the policy's starting model, frozen; created
 * only when something asks for it) and Trainer (DefaultTrainer). A plugin binds at least
 * TrainDataset and Objective, EvalDataset when it has held-out data, and may rebind any other seam.
 */
import "reflect-metadata";
import { Container, type ContainerModule } from "inversify";
import { ConfigError, type ConfigSchema, type FieldNaming } from "../config/schema.js";
import { Optimizer } from "../optim/optimizer.js";
import type { TrainingArguments } from "./args.js";
import { EventBus, TrainerEvents } from "./events.js";
import { makeOptimizer } from "./optimizer-factory.js";
import { makeScheduler } from "./schedule.js";
import { DefaultTrainer, SAVE_MERGED_NEEDS_LORA } from "./trainer.js";
import { StepPlan, TrainDataset, Trainer, planSteps } from "./contract.js";
import { LrScheduler, Policy, Sampler, TrainingArgs } from "./seams.js";
import { ReferenceModel, createReferenceModel } from "./reference.js";
import { PolicySampler } from "./policy-sampler.js";

export interface MethodPlugin<C extends TrainingArguments = TrainingArguments> {
  /** Method name, e.g. "dpo". */
  readonly name: string;
  /** Every field of the method's config (training arguments included), declared once. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly schema: ConfigSchema<any>;
  /** Default values of the method's config (from the schema). */
  readonly defaults: Omit<C, "outputDir">;
  /** Fills defaults and validates; throws naming `source` and the field (as `naming` says: key, file key or flag). */
  resolve(partial: Partial<C> & { outputDir: string }, source?: string, naming?: FieldNaming): C;
  /** Bindings for a run with this config. */
  module(config: C): ContainerModule;
}

/**
 * A container holding the core bindings for one run.
 * @throws ConfigError when `args.saveMerged` is set but the policy trains no LoRA adapter.
 */
export function createTrainingContainer(opts: { policy: Policy; args: TrainingArguments }): Container {
  if (opts.args.saveMerged && !opts.policy.adapter) throw new ConfigError("training arguments", "saveMerged", `saveMerged ${SAVE_MERGED_NEEDS_LORA}`);
  const c = new Container();
  c.bind<TrainingArguments>(TrainingArgs).toConstantValue(opts.args);
  c.bind<Policy>(Policy).toConstantValue(opts.policy);
  c.bind<TrainerEvents>(TrainerEvents).toConstantValue(new EventBus());
  c.bind<Optimizer>(Optimizer)
    .toResolvedValue((p: Policy, a: TrainingArguments) => makeOptimizer(p.trainable, a), [Policy, TrainingArgs])
    .inSingletonScope();
  c.bind<StepPlan>(StepPlan)
    .toResolvedValue((a: TrainingArguments, d: TrainDataset<unknown>) => planSteps(d.examples.length, a), [TrainingArgs, TrainDataset])
    .inSingletonScope();
  c.bind<LrScheduler>(LrScheduler)
    .toResolvedValue((a: TrainingArguments, plan: StepPlan) => makeScheduler(a.lrSchedulerType, plan.maxSteps, plan.warmupSteps), [TrainingArgs, StepPlan])
    .inSingletonScope();
  c.bind<Sampler>(Sampler).toResolvedValue((p: Policy) => new PolicySampler(p), [Policy]).inSingletonScope();
  c.bind<ReferenceModel>(ReferenceModel).toResolvedValue((p: Policy) => createReferenceModel(p), [Policy]).inSingletonScope();
  c.bind<Trainer>(Trainer).to(DefaultTrainer).inSingletonScope();
  return c;
}
