/**
 * Builds the default optimizer from training arguments: AdamW (torch semantics) or SGD, with
 * transformers' parameter grouping (no weight decay on biases and norm weights) and an optional
 * separate learning rate for embed_tokens / lm_head (`embeddingLearningRate`, Unsloth's CPT recipe).
 */
import { AdamW } from "../optim/adamw.js";
import type { Optimizer, ParamGroup } from "../optim/optimizer.js";
import { SGD } from "../optim/sgd.js";
import type { ParamSource } from "../params/param-store.js";
import type { TrainingArguments } from "./args.js";

const isEmbedding = (n: string) => n === "model.embed_tokens.weight" || n === "lm_head.weight";
const noDecay = (n: string) => n.endsWith(".bias") || /norm\.weight$/.test(n);

/** Parameter groups for `trainable`. */
export function paramGroups(trainable: ParamSource, args: TrainingArguments): ParamGroup[] {
  const groups = new Map<string, ParamGroup>();
  for (const n of trainable.names) {
    const emb = args.embeddingLearningRate !== null && isEmbedding(n);
    const decay = noDecay(n) ? 0 : args.weightDecay;
    const key = `${emb}:${decay}`;
    let g = groups.get(key);
    if (!g) {
      g = { params: [], lr: emb ? args.embeddingLearningRate! : args.learningRate, weightDecay: decay };
      groups.set(key, g);
    }
    g.params.push(n);
  }
  return [...groups.values()];
}

export function makeOptimizer(trainable: ParamSource, args: TrainingArguments): Optimizer {
  const groups = paramGroups(trainable, args);
  if (args.optim === "sgd") return new SGD(groups, args.sgdMomentum);
  return new AdamW(groups, { betas: [args.adamBeta1, args.adamBeta2], eps: args.adamEpsilon });
}
