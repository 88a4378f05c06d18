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
  ConfigError,
  DataError,
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
import { type GrpoBuildOptions, type GrpoExample, type PromptRecord, buildGrpoDataset, readPromptRecords } from "./grpo-data.js";
import { GrpoObjective } from "./grpo-objective.js";
import { resolveRewards } from "./rewards.js";

export function grpoModule(config: GrpoConfig): ContainerModule {
  return new ContainerModule(async ({ bind, rebindSync }) => {
    const records = config.dataFiles.flatMap((f) => readPromptRecords(f));
    const split = holdOutRecords(records, config.evalHoldout);
    const evalRecords = [...split.held, ...config.evalDataFiles.flatMap((f) => readPromptRecords(f))];
    const chatTemplate = loadChatTemplate(config.chatTemplate);
    const rewards = await resolveRewards(config.rewardFuncs, config.rewardWeights, { formatPattern: config.formatPattern });
    checkColumns(records, config);
    const options = (p: Policy): GrpoBuildOptions => {
      const positions = p.config.maxPositionEmbeddings;
      const room = positions - config.maxCompletionLength;
      if (room < 1) {
        throw new ConfigError("grpo config", "maxCompletionLength", `maxCompletionLength (--max-completion-length) ${config.maxCompletionLength} leaves no room for a prompt within the model's max_position_embeddings ${positions}`);
      }
      const why = `the model's ${positions} positions minus maxCompletionLength ${config.maxCompletionLength}`;
      return { chatTemplate, maxPromptLength: Math.min(config.maxPromptLength ?? room, room), why: config.maxPromptLength === null || config.maxPromptLength > room ? why : undefined };
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

/** Reward-function arguments a dataset column may not shadow. */
const RESERVED_COLUMNS = ["prompts", "completions", "completionIds"];

/**
 * Columns must not shadow reward-function arguments, and the built-in `accuracy` needs an answer.
 * @throws DataError naming the file and record.
 */
function checkColumns(records: readonly PromptRecord[], config: GrpoConfig): void {
  for (const r of records) {
    const bad = RESERVED_COLUMNS.find((k) => k in r.columns);
    if (bad) throw new DataError(r.file, r.line, `field '${bad}' would shadow the reward-function argument of that name; rename it`);
  }
  if (config.rewardFuncs.includes("accuracy") && records.length && !records.some((r) => "answer" in r.columns || "solution" in r.columns)) {
    const r = records[0]!;
    throw new DataError(r.file, 0, `the built-in 'accuracy' reward needs an 'answer' or 'solution' field; the records have ${Object.keys(r.columns).join(", ") || "no fields"} besides the prompt`);
  }
}

/** Padding id: the tokenizer's pad token, else EOS, else 0 (padding is never scored). */
export function grpoPadId(p: Policy): number {
  return p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0;
}
