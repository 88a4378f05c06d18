/**
 * The training graph of a causal LM: forward, shifted cross-entropy, and gradients of the trainable
 * tensors, in one ONNX graph.
 *
 * Inputs: input_ids, attention_mask, position_ids, labels ([B, T] int64), `num_items_in_batch`
 * (float32 scalar: the number of label tokens in the whole optimizer step, across all micro-batches),
 * every weight, and LoRA dropout masks when configured.
 * Outputs: `loss_sum` (sum of token losses of this micro-batch), `count` (its label tokens), and
 * `grad.<name>` = d(loss_sum / num_items_in_batch)/d(name) for each trainable tensor. Summing those
 * gradients over the micro-batches of a step gives exactly the gradient of the mean loss over all of
 * the step's tokens (the gradient-accumulation normalisation fixed in transformers#34191).
 */
import { Graph, type Value } from "../ir/graph.js";
import { div } from "../ops/binary.js";
import { grad } from "../autodiff/grad.js";
import { causalLmLoss } from "../nn/losses.js";
import type { LlamaArch } from "../model/llama-arch.js";
import { type LoraPlacement, LlamaGraph } from "../model/llama.js";

export interface CausalLmTrainGraph {
  lg: LlamaGraph;
  lossSum: Value;
  count: Value;
  /** Gradient values by trainable tensor name. */
  grads: Map<string, Value>;
  /** Output map for Runtime.compile. */
  outputs: Record<string, Value>;
}

/**
 * @param trainable names of the tensors to differentiate (base weights and/or LoRA weights).
 * @throws Error for a trainable name that is not a weight of the graph.
 */
export function buildCausalLmTrainGraph(arch: LlamaArch, trainable: readonly string[], lora?: LoraPlacement): CausalLmTrainGraph {
  const lg = new LlamaGraph(new Graph(), arch, lora);
  const g = lg.graph;
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
  const pos = g.input("position_ids", "int64", ["batch", "seq"]);
  const labels = g.input("labels", "int64", ["batch", "seq"]);
  const numItems = g.input("num_items_in_batch", "float32", []);
  const { hidden } = lg.decoder(ids, pos, mask);
  const { lossSum, count } = causalLmLoss(lg.logits(LlamaGraph.shiftHidden(hidden)), labels, true);
  const gradValues = grad(div(lossSum, numItems), lg.weightValues(trainable));
  const grads = new Map(trainable.map((n, i) => [n, gradValues[i]!]));
  const outputs: Record<string, Value> = { loss_sum: lossSum, count };
  for (const [n, v] of grads) outputs[`grad.${n}`] = v;
  return { lg, lossSum, count, grads, outputs };
}
