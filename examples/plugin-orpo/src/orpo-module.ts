/**
 * The ORPO plugin's bindings: the training (and held-out) pairs and the ORPO objective. Everything
 * else is core's: Policy, Optimizer, StepPlan, LrScheduler, TrainerEvents and the DefaultTrainer.
 * ORPO needs no reference model, so core's ReferenceModel binding (created only when something asks
 * for it) is never built.
 *
 * The data files are read when the module is loaded (`container.load(orpoModule(config))`), so a bad
 * record fails there, before any model work; the pairs are tokenized when the trainer first asks for
 * the TrainDataset (they need the policy's tokenizer).
 */
import { ContainerModule } from "inversify";
import { EvalDataset, Objective, Policy, TrainDataset, holdOutRecords, loadChatTemplate } from "@ortrl/core";
import type { OrpoConfig } from "./orpo-config.js";
import { type OrpoBuildOptions, type OrpoExample, type OrpoTruncation, buildOrpoDataset, readOrpoRecords } from "./orpo-data.js";
import { OrpoObjective } from "./orpo-objective.js";

/**
 * The ContainerModule of a run with `config`.
 * @throws DataError (when loaded) for unreadable or malformed data files; Error when evalHoldout
 *   leaves no training pair.
 */
export function orpoModule(config: OrpoConfig): ContainerModule {
  return new ContainerModule(({ bind }) => {
    const records = config.dataFiles.flatMap((f) => readOrpoRecords(f));
    const split = holdOutRecords(records, config.evalHoldout);
    const evalRecords = [...split.held, ...config.evalDataFiles.flatMap((f) => readOrpoRecords(f))];
    const chatTemplate = loadChatTemplate(config.chatTemplate);
    // Computed once for the training and held-out pairs (so a cap is reported once).
    let limits: OrpoTruncation | null = null;
    const options = (p: Policy): OrpoBuildOptions => {
      if (!limits) {
        limits = orpoLengths(config, p.config.maxPositionEmbeddings);
        if (limits.maxLength < config.maxLength) {
          process.emitWarning(
            `maxLength ${config.maxLength} exceeds the model's max_position_embeddings: using maxLength ${limits.maxLength} and maxPromptLength ${limits.maxPromptLength}`,
            { code: "ORTRL_ORPO_LENGTH_CAP" },
          );
        }
      }
      return { ...limits, chatTemplate };
    };
    bind<TrainDataset<OrpoExample>>(TrainDataset)
      .toResolvedValue((p: Policy) => buildOrpoDataset(p.tokenizer, split.train, options(p), "training"), [Policy])
      .inSingletonScope();
    if (evalRecords.length) {
      bind<EvalDataset<OrpoExample>>(EvalDataset)
        .toResolvedValue((p: Policy) => buildOrpoDataset(p.tokenizer, evalRecords, options(p), "evaluation"), [Policy])
        .inSingletonScope();
    }
    bind<Objective<OrpoExample>>(Objective)
      .toResolvedValue((p: Policy) => new OrpoObjective(p, config, orpoPadId(p)), [Policy])
      .inSingletonScope();
  });
}

/**
 * maxLength and maxPromptLength for a model: a maxLength above max_position_embeddings is capped
 * there and maxPromptLength scaled in proportion (at least 1, below the cap), so completions keep
 * their share.
 */
export function orpoLengths(config: Pick<OrpoConfig, "maxLength" | "maxPromptLength">, maxPositions: number): OrpoTruncation {
  if (config.maxLength <= maxPositions) return { maxLength: config.maxLength, maxPromptLength: config.maxPromptLength };
  const scaled = Math.max(1, Math.min(maxPositions - 1, Math.floor((config.maxPromptLength * maxPositions) / config.maxLength)));
  return { maxLength: maxPositions, maxPromptLength: scaled };
}

/** Padding id: the tokenizer's pad token, else EOS, else 0 (padding is never scored). */
export function orpoPadId(p: Policy): number {
  return p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0;
}
