/**
 * The GRPO plugin's bindings: training (and held-out) prompts, the reward functions (built-ins and
 * FILE:exportName specs are loaded here), a StepPlan counting prompts per rollout
 * (perDeviceTrainBatchSize x gradientAccumulationSteps / numGenerations) and numIterations optimizer
 * steps per rollout, and the GRPO objective. The reference model (core's default: LoRA without the
 * adapter, or a frozen copy) is only resolved when beta > 0. Prompts are capped so that
 * prompt + completion fits max_position_embeddings.
 */
import { ContainerModule } from "inversify";
import {
  EvalDataset,
  Objective,
  Policy,
  ReferenceModel,
  Sampler,
  StepPlan,
  TrainDataset,
  type TrainingArguments,
  TrainingArgs,
  holdOutRecords,
  loadChatTemplate,
  planSteps,
} from "@ortrl/core";
import type { GrpoConfig } from "./grpo-config.js";
import { type GrpoBuildOptions, type GrpoExample, buildGrpoDataset, readPromptRecords } from "./grpo-data.js";
import { GrpoObjective } from "./grpo-objective.js";
import { resolveRewards } from "./rewards.js";

export function grpoModule(config: GrpoConfig): ContainerModule {
  return new ContainerModule(async ({ bind, rebindSync }) => {
    const records = config.dataFiles.flatMap((f) => readPromptRecords(f));
    const split = holdOutRecords(records, config.evalHoldout);
    const evalRecords = [...split.held, ...config.evalDataFiles.flatMap((f) => readPromptRecords(f))];
    const chatTemplate = loadChatTemplate(config.chatTemplate);
    const rewards = await resolveRewards(config.rewardFuncs, config.rewardWeights, { formatPattern: config.formatPattern });
    const options = (p: Policy): GrpoBuildOptions => {
      const room = p.config.maxPositionEmbeddings - config.maxCompletionLength;
      if (room < 1) throw new Error(`maxCompletionLength ${config.maxCompletionLength} leaves no room for a prompt within the model's max_position_embeddings ${p.config.maxPositionEmbeddings}`);
      return { chatTemplate, maxPromptLength: Math.min(config.maxPromptLength ?? room, room) };
    };
    bind<TrainDataset<GrpoExample>>(TrainDataset)
      .toResolvedValue((p: Policy) => buildGrpoDataset(p.tokenizer, split.train, options(p), "training"), [Policy])
      .inSingletonScope();
    if (evalRecords.length) {
      bind<EvalDataset<GrpoExample>>(EvalDataset)
        .toResolvedValue((p: Policy) => buildGrpoDataset(p.tokenizer, evalRecords, options(p), "evaluation"), [Policy])
        .inSingletonScope();
    }
    rebindSync<StepPlan>(StepPlan)
      .toResolvedValue(
        (a: TrainingArguments, d: TrainDataset<GrpoExample>) =>
          planSteps(d.examples.length, a, (a.perDeviceTrainBatchSize * a.gradientAccumulationSteps) / config.numGenerations, config.numIterations),
        [TrainingArgs, TrainDataset],
      )
      .inSingletonScope();
    bind<GrpoObjective>(Objective)
      .toDynamicValue((ctx) => {
        const policy = ctx.get<Policy>(Policy);
        const reference = config.beta > 0 ? ctx.get<ReferenceModel>(ReferenceModel) : null;
        return new GrpoObjective({ policy, sampler: ctx.get<Sampler>(Sampler), reference, rewards, config, padId: grpoPadId(policy) });
      })
      .inSingletonScope();
  });
}

/** Padding id: the tokenizer's pad token, else EOS, else 0 (padding is never scored). */
export function grpoPadId(p: Policy): number {
  return p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0;
}
