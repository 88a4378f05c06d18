/**
 * The DPO objective: each pair is one branched row [prompt | chosen | rejected] (the prompt computed
 * once; see core model/branched.ts), so a micro-batch costs one policy forward/backward over
 * prompt + both completions and one reference forward. Sequence log-probs are SUMS over completion
 * tokens (per-token averages for IPO); the loss of a step is the mean over its pairs.
 *
 * Graph inputs: the scoring inputs, `chosen_mask` / `rejected_mask` ([B, N] float32, which scored
 * tokens belong to which completion), `ref_chosen_logps` / `ref_rejected_logps` ([B]), and
 * `num_items_in_batch` (pairs in the optimizer step). Outputs: `loss_sum`, the policy's
 * `chosen_logps` / `rejected_logps` ([B]), the chosen/rejected logit sums, and `grad.<name>` =
 * d(loss_sum / num_items_in_batch)/d(name) for every trainable tensor (training graph only).
 */
import {
  type BranchedRow,
  type EvalStepResult,
  Graph,
  LlamaGraph,
  type MicroStepResult,
  type Objective,
  type Policy,
  type ReferenceModel,
  type Rng,
  type ScoreBatch,
  type SetupContext,
  type TensorData,
  type Value,
  branchSums,
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
import type { DpoConfig } from "./dpo-config.js";
import type { DpoExample } from "./dpo-data.js";
import { dpoLosses, dpoMetrics, usesAverageLogps } from "./dpo-loss.js";

/** A pair as a branched row: prompt, then chosen and rejected. */
export const pairRow = (e: DpoExample): BranchedRow => ({ prefix: e.promptIds, branches: [e.chosenIds, e.rejectedIds] });

interface DpoGraph {
  lg: LlamaGraph;
  outputs: Record<string, Value>;
}

/** The DPO graph of a policy: forward, loss, and (when `train`) gradients of the trainable tensors. */
export function buildDpoGraph(policy: Policy, config: Pick<DpoConfig, "beta" | "lossType" | "labelSmoothing">, train: boolean): DpoGraph {
  const placement = policy.adapter ? { ...policy.adapter.placement, dropout: train && policy.adapter.placement.dropout } : undefined;
  const lg = new LlamaGraph(new Graph(), policy.config, placement);
  const g = lg.graph;
  const inp = declareScoreInputs(g);
  const chosenMask = g.input("chosen_mask", "float32", ["batch", "scored"]);
  const rejectedMask = g.input("rejected_mask", "float32", ["batch", "scored"]);
  const refChosen = g.input("ref_chosen_logps", "float32", ["batch"]);
  const refRejected = g.input("ref_rejected_logps", "float32", ["batch"]);
  const numItems = g.input("num_items_in_batch", "float32", []);
  const { logits, logps } = scoreTokens(lg, inp);
  let chosen = reduceSum(mul(logps, chosenMask), [1]);
  let rejected = reduceSum(mul(logps, rejectedMask), [1]);
  if (usesAverageLogps(config.lossType)) {
    chosen = div(chosen, reduceSum(chosenMask, [1]));
    rejected = div(rejected, reduceSum(rejectedMask, [1]));
  }
  const losses = dpoLosses({ policyChosen: chosen, policyRejected: rejected, refChosen, refRejected }, config);
  const lossSum = reduceSum(losses);
  const vocabSums = reduceSum(logits, [2]); // [B, N]
  const outputs: Record<string, Value> = {
    loss_sum: lossSum,
    chosen_logps: chosen,
    rejected_logps: rejected,
    chosen_logits_sum: reduceSum(mul(vocabSums, chosenMask)),
    rejected_logits_sum: reduceSum(mul(vocabSums, rejectedMask)),
  };
  if (train) {
    const names = policy.trainable.names;
    grad(div(lossSum, numItems), lg.weightValues(names)).forEach((v, i) => (outputs[`grad.${names[i]}`] = v));
  }
  return { lg, outputs };
}

export class DpoObjective implements Objective<DpoExample> {
  private readonly graphs = new TrainEvalGraphs<DpoGraph>((train) => buildDpoGraph(this.policy, this.config, train), () => this.policy.lm.runtime);

  constructor(
    private readonly policy: Policy,
    private readonly reference: ReferenceModel,
    private readonly config: DpoConfig,
    /** Token id written into padding. */
    readonly padId: number,
  ) {}

  /** Every pair counts once: the loss of a step is the mean over its pairs. */
  countItems(): number {
    return 1;
  }

  /** Lets a precomputed reference compute every training and held-out pair from the starting weights. */
  async setup(ctx: SetupContext): Promise<void> {
    if (!this.reference.prepare) return;
    const rows = [...ctx.train, ...ctx.eval].map((e) => pairRow(e as DpoExample));
    await this.reference.prepare(rows, { padId: this.padId, batchSize: this.config.perDeviceEvalBatchSize, signal: ctx.signal });
  }

  async microStep(pairs: readonly DpoExample[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult> {
    const { out, sb, metrics } = await this.run(pairs, true, numItemsInBatch, rng);
    const grads = trainableGrads(this.policy.trainable.names, out);
    return { lossSum: scalar(out.loss_sum!), count: pairs.length, grads, metrics, numTokens: packedTokens(sb) };
  }

  async evalStep(pairs: readonly DpoExample[]): Promise<EvalStepResult> {
    const { out, metrics } = await this.run(pairs, false, pairs.length);
    return { lossSum: scalar(out.loss_sum!), count: pairs.length, metrics };
  }


  private async run(pairs: readonly DpoExample[], train: boolean, numItems: number, rng?: Rng) {
    const sb = collateBranched(pairs.map(pairRow), this.padId);
    const ref = await this.referenceLogps(sb);
    const { graph, exe } = this.graphs.get(train);
    const masks = branchMasks(sb);
    const B = pairs.length;
    const feeds: Record<string, TensorData> = {
      ...this.policy.lm.weightFeeds(graph.lg),
      ...scoreFeeds(sb),
      chosen_mask: { data: masks.chosen, dims: [B, sb.numScored] },
      rejected_mask: { data: masks.rejected, dims: [B, sb.numScored] },
      ref_chosen_logps: { data: ref.chosen, dims: [B] },
      ref_rejected_logps: { data: ref.rejected, dims: [B] },
      num_items_in_batch: { data: Float32Array.of(numItems), dims: [] },
    };
    if (rng) Object.assign(feeds, dropoutFeeds(this.policy, graph.lg, B, sb.batch.seqLen, rng));
    const out = await (await exe).run(feeds);
    const metrics = dpoMetrics(
      {
        chosenLogps: out.chosen_logps!.data as Float32Array,
        rejectedLogps: out.rejected_logps!.data as Float32Array,
        refChosenLogps: ref.chosen,
        refRejectedLogps: ref.rejected,
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

  /** Reference sequence log-probs of chosen and rejected (sums, or averages for IPO). */
  private async referenceLogps(sb: ScoreBatch): Promise<{ chosen: Float32Array; rejected: Float32Array }> {
    const sums = branchSums(await this.reference.scoreLogps(sb), sb);
    const avg = usesAverageLogps(this.config.lossType);
    const per = (j: 0 | 1) => Float32Array.from(sums, (s, b) => (avg ? s[j]! / sb.rows[b]!.branches[j]!.length : s[j]!));
    return { chosen: per(0), rejected: per(1) };
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
