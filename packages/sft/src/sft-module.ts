/**
 * The SFT plugin's bindings: training (and held-out) examples from SFT records, and the causal-LM
 * objective (TRL SFTTrainer's loss: mean token cross-entropy over scored tokens). Padding uses the
 * tokenizer's pad token, else EOS (the labels of padding are -100, so a real EOS stays scored), else 0.
 * Rows are capped at the model's max_position_embeddings as well as maxSeqLength.
 */
import { ContainerModule } from "inversify";
import { CausalLmObjective, EvalDataset, Objective, Policy, TrainDataset } from "@ortrl/core";
import type { SftConfig } from "./sft-config.js";
import { type SftBuildOptions, buildSftDataset, holdOutRecords, loadChatTemplate, readSftRecords } from "./sft-data.js";

export function sftModule(config: SftConfig): ContainerModule {
  return new ContainerModule(({ bind }) => {
    const records = config.dataFiles.flatMap((f) => readSftRecords(f, config.datasetTextField));
    const split = holdOutRecords(records, config.evalHoldout);
    const evalRecords = [...split.held, ...config.evalDataFiles.flatMap((f) => readSftRecords(f, config.datasetTextField))];
    const chatTemplate = loadChatTemplate(config.chatTemplate);
    const options = (p: Policy, packing: boolean): SftBuildOptions => ({
      completionOnlyLoss: config.completionOnlyLoss,
      assistantOnlyLoss: config.assistantOnlyLoss,
      chatTemplate,
      maxLength: Math.min(config.maxSeqLength, p.config.maxPositionEmbeddings),
      packing,
    });
    bind<TrainDataset>(TrainDataset)
      .toResolvedValue((p: Policy) => buildSftDataset(p.tokenizer, split.train, options(p, config.packing), "training"), [Policy])
      .inSingletonScope();
    if (evalRecords.length) {
      bind<EvalDataset>(EvalDataset)
        .toResolvedValue((p: Policy) => buildSftDataset(p.tokenizer, evalRecords, options(p, false), "evaluation"), [Policy])
        .inSingletonScope();
    }
    bind<Objective>(Objective)
      .toResolvedValue((p: Policy) => new CausalLmObjective(p, sftPadId(p)), [Policy])
      .inSingletonScope();
  });
}

/** Padding id: the tokenizer's pad token, else EOS, else 0 (padding labels are -100 either way). */
export function sftPadId(p: Policy): number {
  return p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0;
}
