/**
 * The DPO plugin's bindings: training (and held-out) pairs, the reference model, and the DPO
 * objective. The reference is core's default (LoRA: the adapter left out of the call; full
 * fine-tuning: a frozen copy of the starting weights) unless `precomputeRefLogProbs`, which binds a
 * PrecomputedReference: log-probs of every pair computed from the starting weights before training
 * and kept in outputDir/reference_logps.safetensors. Rows are capped at max_position_embeddings.
 */
import { join } from "node:path";
import { ContainerModule } from "inversify";
import {
  CausalLmReference,
  EvalDataset,
  Objective,
  Policy,
  PrecomputedReference,
  ReferenceModel,
  TrainDataset,
  holdOutRecords,
  loadChatTemplate,
  modelFingerprint,
  startingModelView,
} from "@ortrl/core";
import type { DpoConfig } from "./dpo-config.js";
import { type DpoBuildOptions, type DpoExample, buildDpoDataset, readPreferenceRecords } from "./dpo-data.js";
import { DpoObjective } from "./dpo-objective.js";

/** File of precomputed reference log-probs in the output directory. */
export const REFERENCE_LOGPS_FILE = "reference_logps.safetensors";

export function dpoModule(config: DpoConfig): ContainerModule {
  return new ContainerModule(({ bind, rebindSync }) => {
    const records = config.dataFiles.flatMap((f) => readPreferenceRecords(f));
    const split = holdOutRecords(records, config.evalHoldout);
    const evalRecords = [...split.held, ...config.evalDataFiles.flatMap((f) => readPreferenceRecords(f))];
    const chatTemplate = loadChatTemplate(config.chatTemplate);
    // Computed once for the training and held-out pairs (so a cap is reported once).
    let lengths: ReturnType<typeof effectiveLengths> | null = null;
    const options = (p: Policy): DpoBuildOptions => {
      if (!lengths) {
        lengths = effectiveLengths(config, p.config.maxPositionEmbeddings);
        if (config.maxLength > p.config.maxPositionEmbeddings) {
          process.emitWarning(
            `maxLength ${config.maxLength} exceeds the model's max_position_embeddings ${lengths.maxLength}: using maxLength ${lengths.maxLength} and maxPromptLength ${lengths.maxPromptLength} (the same proportions)`,
            { code: "ORTRL_DPO_LENGTH_CAP" },
          );
        }
      }
      return { chatTemplate, maxLength: lengths.maxLength, maxPromptLength: lengths.maxPromptLength, maxCompletionLength: config.maxCompletionLength };
    };
    bind<TrainDataset<DpoExample>>(TrainDataset)
      .toResolvedValue((p: Policy) => buildDpoDataset(p.tokenizer, split.train, options(p), "training"), [Policy])
      .inSingletonScope();
    if (evalRecords.length) {
      bind<EvalDataset<DpoExample>>(EvalDataset)
        .toResolvedValue((p: Policy) => buildDpoDataset(p.tokenizer, evalRecords, options(p), "evaluation"), [Policy])
        .inSingletonScope();
    }
    if (config.precomputeRefLogProbs) {
      rebindSync<ReferenceModel>(ReferenceModel)
        .toResolvedValue((p: Policy) => {
          const start = startingModelView(p);
          return new PrecomputedReference(new CausalLmReference(start, "the starting model"), join(config.outputDir, REFERENCE_LOGPS_FILE), modelFingerprint(start));
        }, [Policy])
        .inSingletonScope();
    }
    bind<Objective<DpoExample>>(Objective)
      .toResolvedValue((p: Policy, ref: ReferenceModel) => new DpoObjective(p, ref, config, dpoPadId(p)), [Policy, ReferenceModel])
      .inSingletonScope();
  });
}

/**
 * maxLength and maxPromptLength for a model: the prompt limit defaults to half of maxLength; a
 * maxLength above the model's max_position_embeddings is capped there and the prompt limit scaled in
 * proportion, so the completions keep their share.
 */
export function effectiveLengths(config: Pick<DpoConfig, "maxLength" | "maxPromptLength">, maxPositions: number): { maxLength: number; maxPromptLength: number } {
  const prompt = config.maxPromptLength ?? Math.floor(config.maxLength / 2);
  if (config.maxLength <= maxPositions) return { maxLength: config.maxLength, maxPromptLength: prompt };
  const scaled = Math.max(1, Math.min(maxPositions - 1, Math.floor((prompt * maxPositions) / config.maxLength)));
  return { maxLength: maxPositions, maxPromptLength: scaled };
}

/** Padding id: the tokenizer's pad token, else EOS, else 0 (padding is never scored). */
export function dpoPadId(p: Policy): number {
  return p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0;
}
