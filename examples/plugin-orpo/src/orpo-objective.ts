/**
 * The ORPO objective. Each pair is one branched row [prompt | chosen | rejected] (core's
 * `collateBranched`: the prompt is computed once and each completion attends to it, exactly as the two
 * separate sequences prompt + completion would be), so a micro-batch is one policy forward/backward
 * and nothing else: ORPO has no reference model. Sequence log-probs are per-token AVERAGES over the
 * completion tokens; the loss of a step is the mean over its pairs of L_SFT + β L_OR (orpo-loss.ts).
 *
 * Graph inputs: core's scoring inputs (`declareScoreInputs`), `chosen_mask` / `rejected_mask`
 * ([B, N] float32 0/1: which scored tokens belong to which completion) and `num_items_in_batch`
 * (float32 scalar: pairs in the optimizer step). Outputs: `loss_sum` (scalar), `chosen_logps` /
 * `rejected_logps` / `log_odds_ratio` ([B] float32), `chosen_logits_sum` / `rejected_logits_sum`
 * (scalars), and `grad.<name>` = d(loss_sum / num_items_in_batch)/d(name) for every trainable tensor
 * (training graph only).
 */
import {
  type BranchedRow,
  type EvalStepResult,
  Graph,
  LlamaGraph,
  type MicroStepResult,
  type Objective,
  type Policy,
  type Rng,
  type ScoreBatch,
  type TensorData,
  type Value,
  collateBranched,
  declareScoreInputs,
  div,
  dropoutFeeds,
  grad,
  mul,
  packedTokens,
  reduceSum,
  scoreFeeds,
  scoreTokens,
  TrainEvalGraphs,
  trainableGrads,
} from "@ortrl/core";
import type { OrpoConfig } from "./orpo-config.js";
import type { OrpoExample } from "./orpo-data.js";
import { orpoLosses, orpoMetrics } from "./orpo-loss.js";

/** A pair as a branched row: the prompt, then the chosen and the rejected completion. */
export const orpoRow = (e: OrpoExample): BranchedRow => ({ prefix: e.promptIds, branches: [e.chosenIds, e.rejectedIds] });

/** A built (not yet compiled) ORPO graph and the values it returns. */
export interface OrpoGraph {
  lg: LlamaGraph;
  outputs: Record<string, Value>;
}

/** The ORPO graph of a policy: forward, loss, and (when `train`) gradients of the trainable tensors. */
export function buildOrpoGraph(policy: Policy, config: Pick<OrpoConfig, "beta">, train: boolean): OrpoGraph {
  const placement = policy.adapter ? { ...policy.adapter.placement, dropout: train && policy.adapter.placement.dropout } : undefined;
  const lg = new LlamaGraph(new Graph(), policy.config, placement);
  const g = lg.graph;
  const inp = declareScoreInputs(g);
  const chosenMask = g.input("chosen_mask", "float32", ["batch", "scored"]);
  const rejectedMask = g.input("rejected_mask", "float32", ["batch", "scored"]);
  const numItems = g.input("num_items_in_batch", "float32", []);
  const { logits, logps } = scoreTokens(lg, inp);
  const chosen = div(reduceSum(mul(logps, chosenMask), [1]), reduceSum(chosenMask, [1]));
  const rejected = div(reduceSum(mul(logps, rejectedMask), [1]), reduceSum(rejectedMask, [1]));
  const { losses, logOddsRatio } = orpoLosses({ chosen, rejected }, config.beta);
  const lossSum = reduceSum(losses);
  const vocabSums = reduceSum(logits, [2]); // [B, N]
  const outputs: Record<string, Value> = {
    loss_sum: lossSum,
    chosen_logps: chosen,
    rejected_logps: rejected,
    log_odds_ratio: logOddsRatio,
    chosen_logits_sum: reduceSum(mul(vocabSums, chosenMask)),
    rejected_logits_sum: reduceSum(mul(vocabSums, rejectedMask)),
  };
  if (train) {
    const names = policy.trainable.names;
    grad(div(lossSum, numItems), lg.weightValues(names)).forEach((v, i) => (outputs[`grad.${names[i]}`] = v));
  }
  return { lg, outputs };
}

export class OrpoObjective implements Objective<OrpoExample> {
  private readonly graphs = new TrainEvalGraphs<OrpoGraph>((train) => buildOrpoGraph(this.policy, this.config, train), () => this.policy.lm.runtime);

  constructor(
    private readonly policy: Policy,
    private readonly config: Pick<OrpoConfig, "beta">,
    /** Token id written into padding (never scored). */
    readonly padId: number,
  ) {}

  /** Every pair counts once: the loss of a step is the mean over its pairs. */
  countItems(): number {
    return 1;
  }

  /**
   * Forward and backward of a micro-batch of pairs.
   * @throws RangeError (from collateBranched) for a pair with an empty prompt or completion.
   */
  async microStep(pairs: readonly OrpoExample[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult> {
    const { out, sb, metrics } = await this.run(pairs, true, numItemsInBatch, rng);
    const grads = trainableGrads(this.policy.trainable.names, out);
    return { lossSum: scalar(out.loss_sum!), count: pairs.length, grads, metrics, numTokens: packedTokens(sb) };
  }

  /** Loss and metrics of held-out pairs, without gradients. */
  async evalStep(pairs: readonly OrpoExample[]): Promise<EvalStepResult> {
    const { out, metrics } = await this.run(pairs, false, pairs.length);
    return { lossSum: scalar(out.loss_sum!), count: pairs.length, metrics };
  }


  private async run(pairs: readonly OrpoExample[], train: boolean, numItems: number, rng?: Rng) {
    const sb = collateBranched(pairs.map(orpoRow), this.padId);
    const { graph, exe } = this.graphs.get(train);
    const masks = branchMasks(sb);
    const B = pairs.length;
    const feeds: Record<string, TensorData> = {
      ...this.policy.lm.weightFeeds(graph.lg),
      ...scoreFeeds(sb),
      chosen_mask: { data: masks.chosen, dims: [B, sb.numScored] },
      rejected_mask: { data: masks.rejected, dims: [B, sb.numScored] },
      num_items_in_batch: { data: Float32Array.of(numItems), dims: [] },
    };
    if (rng) Object.assign(feeds, dropoutFeeds(this.policy, graph.lg, B, sb.batch.seqLen, rng));
    const out = await (await exe).run(feeds);
    const metrics = orpoMetrics(
      {
        chosenLogps: out.chosen_logps!.data as Float32Array,
        rejectedLogps: out.rejected_logps!.data as Float32Array,
        logOddsRatio: out.log_odds_ratio!.data as Float32Array,
        chosenLogitsSum: scalar(out.chosen_logits_sum!),
        rejectedLogitsSum: scalar(out.rejected_logits_sum!),
        chosenTokens: pairs.reduce((n, e) => n + e.chosenIds.length, 0),
        rejectedTokens: pairs.reduce((n, e) => n + e.rejectedIds.length, 0),
        vocabSize: this.policy.config.vocabSize,
      },
      this.config.beta,
    );
    return { out, sb, metrics };
  }
}

/** [B, N] 0/1 masks of the scored tokens of each row's first (chosen) and second (rejected) branch. */
function branchMasks(sb: ScoreBatch): { chosen: Float32Array; rejected: Float32Array } {
  const N = sb.numScored;
  const chosen = new Float32Array(sb.spans.length * N);
  const rejected = new Float32Array(sb.spans.length * N);
  sb.spans.forEach(([c, r], b) => {
    chosen.fill(1, b * N + c![0], b * N + c![1]);
    rejected.fill(1, b * N + r![0], b * N + r![1]);
  });
  return { chosen, rejected };
}

const scalar = (t: TensorData) => (t.data as Float32Array)[0]!;
