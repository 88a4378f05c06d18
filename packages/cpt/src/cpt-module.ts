/**
 * The CPT plugin's bindings: training/held-out examples from raw text, and the causal-LM objective.
 * Blocks are capped at the model's max_position_embeddings as well as maxSeqLength.
 */
import { ContainerModule } from "inversify";
import { CausalLmObjective, EvalDataset, Objective, Policy, TrainDataset } from "@ortrl/core";
import type { CptConfig } from "./cpt-config.js";
import { buildEvalExamples, buildTrainExamples, holdOut, readDocuments } from "./cpt-data.js";

export function cptModule(config: CptConfig): ContainerModule {
  const blockLength = (p: Policy) => Math.min(config.maxSeqLength, p.config.maxPositionEmbeddings);
  return new ContainerModule(({ bind }) => {
    const docs = config.dataFiles.flatMap((f) => readDocuments(f));
    const split = holdOut(docs, config.evalHoldout);
    const evalDocs = [...split.held, ...config.evalDataFiles.flatMap((f) => readDocuments(f))];
    bind<TrainDataset>(TrainDataset)
      .toResolvedValue((p: Policy) => ({ examples: buildTrainExamples(p.tokenizer, split.train, blockLength(p), config.packing) }), [Policy])
      .inSingletonScope();
    if (evalDocs.length) {
      bind<EvalDataset>(EvalDataset)
        .toResolvedValue((p: Policy) => ({ examples: buildEvalExamples(p.tokenizer, evalDocs, blockLength(p)) }), [Policy])
        .inSingletonScope();
    }
    bind<Objective>(Objective)
      .toResolvedValue((p: Policy) => new CausalLmObjective(p, p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0), [Policy])
      .inSingletonScope();
  });
}
