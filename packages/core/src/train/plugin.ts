/**
 * The plugin contract and the core container.
 *
 * A method plugin is an inversify ContainerModule factory plus its config type and defaults. Loading
 * is explicit in code:
 *
 *   const container = createTrainingContainer({ policy, args: config });
 *   await container.load(cptPlugin.module(config));
 *   container.rebindSync(Optimizer).toConstantValue(myOptimizer);   // optional: replace a seam
 *   const result = await container.get<DefaultTrainer>(Trainer).run();
 *
 * Core binds: TrainingArgs, Policy, TrainerEvents (an EventBus), Optimizer (AdamW/SGD from the args),
 * LrScheduler (from the args and the training set size), Sampler (generation from the policy) and
 * Trainer (DefaultTrainer). A plugin binds
 * at least TrainDataset and Objective, and EvalDataset when it has held-out data.
 */
import "reflect-metadata";
import { Container, type ContainerModule } from "inversify";
import { Optimizer } from "../optim/optimizer.js";
import type { TrainingArguments } from "./args.js";
import { EventBus } from "./events.js";
import { makeOptimizer } from "./optimizer-factory.js";
import { makeScheduler, warmupStepsFor } from "./schedule.js";
import { DefaultTrainer, planSteps } from "./trainer.js";
import { LrScheduler, Policy, Sampler, TrainDataset, Trainer, TrainerEvents, TrainingArgs } from "./seams.js";
import { PolicySampler } from "../generate/sampler.js";

export interface MethodPlugin<C extends TrainingArguments = TrainingArguments> {
  /** Method name, e.g. "cpt". */
  readonly name: string;
  /** Default values of the method's config (training arguments included). */
  readonly defaults: Omit<C, "outputDir">;
  /** Fills defaults and validates; throws naming the field. */
  resolve(partial: Partial<C> & { outputDir: string }, source?: string): C;
  /** Bindings for a run with this config. */
  module(config: C): ContainerModule;
}

/** A container holding the core bindings for one run. */
export function createTrainingContainer(opts: { policy: Policy; args: TrainingArguments }): Container {
  const c = new Container();
  c.bind<TrainingArguments>(TrainingArgs).toConstantValue(opts.args);
  c.bind<Policy>(Policy).toConstantValue(opts.policy);
  c.bind<TrainerEvents>(TrainerEvents).toConstantValue(new EventBus());
  c.bind<Optimizer>(Optimizer)
    .toResolvedValue((p: Policy, a: TrainingArguments) => makeOptimizer(p.trainable, a), [Policy, TrainingArgs])
    .inSingletonScope();
  c.bind<LrScheduler>(LrScheduler)
    .toResolvedValue(
      (a: TrainingArguments, d: TrainDataset) => {
        const plan = planSteps(d.examples.length, a);
        return makeScheduler(a.lrSchedulerType, plan.maxSteps, warmupStepsFor(plan.maxSteps, a.warmupSteps, a.warmupRatio));
      },
      [TrainingArgs, TrainDataset],
    )
    .inSingletonScope();
  c.bind<Sampler>(Sampler).toResolvedValue((p: Policy) => new PolicySampler(p), [Policy]).inSingletonScope();
  c.bind<DefaultTrainer>(Trainer).to(DefaultTrainer).inSingletonScope();
  return c;
}
