/**
 * The GRPO objective: `prepareStep` is the rollout (grpo-rollout.ts); each micro-batch packs its
 * completions as branched rows (a prompt once, its completions as branches) and runs one graph:
 * scored log-probs, the per-token loss of grpo-loss.ts weighted by the loss type's normalisation,
 * gradients, and the sums behind TRL's `kl`, `entropy` and `clip_ratio/*` metrics.
 *
 * Graph inputs: the scoring inputs, and per scored token ([B, N] float32) `advantages`, `weights`
 * (normalisation; 0 on padding and masked completions), `mask` (1 on the tokens of scored
 * completions), `old_logps` (numIterations > 1), `ref_logps` (beta > 0); `num_items_in_batch`.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type BranchedRow,
  type EvalStepResult,
  Graph,
  LlamaGraph,
  type Metrics,
  type MicroStepResult,
  type NamedReward,
  type Objective,
  type Policy,
  type PreparedStep,
  type ReferenceModel,
  Rng,
  type Sampler,
  type StepContext,
  type TensorData,
  type Value,
  and,
  cast,
  collateBranched,
  declareScoreInputs,
  detach,
  div,
  dropoutFeeds,
  exp,
  grad,
  greater,
  less,
  mul,
  reduceSum,
  scoreFeeds,
  scoreTokens,
  withFsContext,
  TrainEvalGraphs,
  trainableGrads,
} from "@ortrl/core";
import type { GrpoConfig } from "./grpo-config.js";
import type { GrpoExample } from "./grpo-data.js";
import { grpoPerTokenLoss, lossItems, tokenWeights } from "./grpo-loss.js";
import { type GrpoRow, rollout } from "./grpo-rollout.js";

interface GrpoGraph {
  lg: LlamaGraph;
  outputs: Record<string, Value>;
}

export interface GrpoGraphOptions {
  /** Training graph (gradients, LoRA dropout) or evaluation graph. */
  train: boolean;
  /** Old log-probs are an input (numIterations > 1); else the ratio is exp(logp - detach(logp)) = 1. */
  withOld: boolean;
  /** Reference log-probs are an input and the KL term is on (beta > 0). */
  withRef: boolean;
}

/** The GRPO graph of a policy (see the file comment). */
export function buildGrpoGraph(policy: Policy, c: Pick<GrpoConfig, "epsilon" | "epsilonHigh" | "beta" | "temperature">, o: GrpoGraphOptions): GrpoGraph {
  const placement = policy.adapter ? { ...policy.adapter.placement, dropout: o.train && policy.adapter.placement.dropout } : undefined;
  const lg = new LlamaGraph(new Graph(), policy.config, placement);
  const g = lg.graph;
  const inp = declareScoreInputs(g);
  const tok = (name: string) => g.input(name, "float32", ["batch", "scored"]);
  const advantages = tok("advantages");
  const weights = tok("weights");
  const mask = tok("mask");
  const oldLogps = o.withOld ? tok("old_logps") : null;
  const refLogps = o.withRef ? tok("ref_logps") : null;
  const numItems = g.input("num_items_in_batch", "float32", []);
  // TRL scores completions at the sampling temperature (logits / T), for the policy, old and reference log-probs alike.
  const { logps, logSoftmax } = scoreTokens(lg, inp, c.temperature);
  const t = grpoPerTokenLoss({ logps, oldLogps: oldLogps ?? detach(logps), advantages, refLogps }, { ...c, beta: o.withRef ? c.beta : 0 });
  const lossSum = reduceSum(mul(t.loss, weights));
  const masked = (v: Value) => reduceSum(mul(v, mask));
  const entropy = mul(reduceSum(mul(exp(logSoftmax), logSoftmax), [2]), -1);
  const high = 1 + (c.epsilonHigh ?? c.epsilon);
  const outputs: Record<string, Value> = {
    loss_sum: lossSum,
    entropy_sum: masked(entropy),
    clip_low: masked(cast(and(less(t.ratio, 1 - c.epsilon), less(advantages, 0)), "float32")),
    clip_high: masked(cast(and(greater(t.ratio, high), greater(advantages, 0)), "float32")),
  };
  if (t.kl) outputs.kl_sum = masked(t.kl);
  if (o.train) {
    const names = policy.trainable.names;
    grad(div(lossSum, numItems), lg.weightValues(names)).forEach((v, i) => (outputs[`grad.${names[i]}`] = v));
  }
  return { lg, outputs };
}

/** Completions packed as branched rows: consecutive rows of the same prompt group share one row. */
interface Packed {
  rows: BranchedRow[];
  /** Per completion: its packed row and its span on the scored axis. */
  where: { b: number; start: number; end: number }[];
}

function pack(completions: readonly GrpoRow[]): Packed {
  const rows: BranchedRow[] = [];
  const where: Packed["where"] = [];
  let last = -1;
  const branches: number[][][] = [];
  for (const c of completions) {
    if (c.group !== last || rows.length === 0) {
      rows.push({ prefix: c.promptIds, branches: [] });
      branches.push([]);
      last = c.group;
    }
    const b = rows.length - 1;
    const start = branches[b]!.reduce((n, x) => n + x.length, 0);
    branches[b]!.push(c.completionIds);
    where.push({ b, start, end: start + c.completionIds.length });
  }
  return { rows: rows.map((r, i) => ({ prefix: r.prefix, branches: branches[i]! })), where };
}

export interface GrpoObjectiveDeps {
  policy: Policy;
  sampler: Sampler;
  /** Null when beta = 0. */
  reference: ReferenceModel | null;
  rewards: readonly NamedReward[];
  config: GrpoConfig;
  padId: number;
}

export class GrpoObjective implements Objective<GrpoExample, GrpoRow> {
  private readonly graphs = new TrainEvalGraphs<GrpoGraph>((train) => buildGrpoGraph(this.d.policy, this.d.config, { train, withOld: this.d.config.numIterations > 1, withRef: this.d.config.beta > 0 }), () => this.d.policy.lm.runtime);

  constructor(private readonly d: GrpoObjectiveDeps) {}

  /** The rollout: sample, score, advantages, old/reference log-probs; writes completions.jsonl at logging steps. */
  async prepareStep(prompts: readonly GrpoExample[], ctx: StepContext): Promise<PreparedStep<GrpoRow>> {
    const r = await rollout({ ...this.d, tokenizer: this.d.policy.tokenizer }, prompts, ctx.rng, ctx.step);
    const { loggingSteps, numIterations } = this.d.config;
    const logs = Array.from({ length: numIterations }, (_, i) => ctx.step + i).some((s) => s % loggingSteps === 0);
    if (logs || ctx.step === 1) this.writeSamples(ctx.step, r.samples);
    return { rows: r.rows, metrics: r.metrics, numTokens: r.numTokens };
  }

  countItems(row: GrpoRow): number {
    return lossItems(this.d.config.lossType, { tokens: row.scored ? row.completionIds.length : 0 });
  }

  async microStep(rows: readonly GrpoRow[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult> {
    const { out, metrics } = await this.run(rows, true, numItemsInBatch, rng);
    const grads = trainableGrads(this.d.policy.trainable.names, out);
    return { lossSum: scalar(out.loss_sum!), count: rows.reduce((n, r) => n + this.countItems(r), 0), grads, metrics };
  }

  /** Samples numGenerations completions per held-out prompt (a fixed seed), scores them, and computes the loss. */
  async evalStep(prompts: readonly GrpoExample[]): Promise<EvalStepResult> {
    const r = await rollout({ ...this.d, tokenizer: this.d.policy.tokenizer }, prompts, new Rng(this.d.config.seed ^ 0x2545f491), -1);
    let lossSum = 0;
    let count = 0;
    const lossMetrics: Metrics[] = [];
    const per = Math.max(this.d.config.numGenerations, this.d.config.perDeviceEvalBatchSize);
    for (let i = 0; i < r.rows.length; i += per) {
      const chunk = r.rows.slice(i, i + per);
      const items = chunk.reduce((n, x) => n + this.countItems(x), 0);
      const { out, metrics } = await this.run(chunk, false, Math.max(items, 1));
      lossSum += scalar(out.loss_sum!);
      count += items;
      lossMetrics.push(metrics);
    }
    const merged: Metrics = { ...r.metrics };
    for (const k of Object.keys(lossMetrics[0] ?? {})) merged[k] = lossMetrics.reduce((a, m) => a + m[k]!, 0) / lossMetrics.length;
    return { lossSum, count: Math.max(count, 1), metrics: merged };
  }


  private async run(rows: readonly GrpoRow[], train: boolean, numItems: number, rng?: Rng): Promise<{ out: Record<string, TensorData>; metrics: Metrics }> {
    const cfg = this.d.config;
    const packed = pack(rows);
    const sb = collateBranched(packed.rows, this.d.padId);
    const N = sb.numScored;
    const B = packed.rows.length;
    const perToken = () => new Float32Array(B * N);
    const advantages = perToken();
    const weights = perToken();
    const mask = perToken();
    const old = cfg.numIterations > 1 ? perToken() : null;
    const ref = cfg.beta > 0 ? perToken() : null;
    const w = tokenWeights(cfg.lossType, rows.map((r) => ({ tokens: r.scored ? r.completionIds.length : 0 })), cfg.maxCompletionLength);
    let tokens = 0;
    rows.forEach((r, i) => {
      const { b, start, end } = packed.where[i]!;
      const at = b * N + start;
      advantages.fill(r.advantage, at, b * N + end);
      weights.fill(w[i]!, at, b * N + end);
      if (r.scored) {
        mask.fill(1, at, b * N + end);
        tokens += end - start;
      }
      if (old) old.set(r.oldLogps!, at);
      if (ref) ref.set(r.refLogps!, at);
    });
    const { graph, exe } = this.graphs.get(train);
    const dims = [B, N];
    const feeds: Record<string, TensorData> = {
      ...this.d.policy.lm.weightFeeds(graph.lg),
      ...scoreFeeds(sb),
      advantages: { data: advantages, dims },
      weights: { data: weights, dims },
      mask: { data: mask, dims },
      num_items_in_batch: { data: Float32Array.of(numItems), dims: [] },
    };
    if (old) feeds.old_logps = { data: old, dims };
    if (ref) feeds.ref_logps = { data: ref, dims };
    if (rng) Object.assign(feeds, dropoutFeeds(this.d.policy, graph.lg, B, sb.batch.seqLen, rng));
    const out = await (await exe).run(feeds);
    const per = (k: string) => (tokens ? scalar(out[k]!) / tokens : 0);
    const metrics: Metrics = {};
    if (out.kl_sum) metrics.kl = per("kl_sum");
    metrics.entropy = per("entropy_sum");
    const low = per("clip_low");
    const high = per("clip_high");
    // One process: the min/max across processes equal the mean.
    Object.assign(metrics, {
      "clip_ratio/low_mean": low,
      "clip_ratio/low_min": low,
      "clip_ratio/high_mean": high,
      "clip_ratio/high_max": high,
      "clip_ratio/region_mean": low + high,
    });
    return { out, metrics };
  }

  /** Appends this rollout's completions, rewards and advantages to outputDir/completions.jsonl. */
  private writeSamples(step: number, samples: { prompt: unknown; completion: unknown; reward: number; rewards: Record<string, number | null>; advantage: number }[]): void {
    const dir = this.d.config.outputDir;
    const file = join(dir, "completions.jsonl");
    withFsContext("write", file, () => {
      mkdirSync(dir, { recursive: true });
      appendFileSync(file, samples.map((s) => JSON.stringify({ step, ...s })).join("\n") + "\n");
    });
    if (this.d.config.logCompletions) {
      const best = samples.reduce((a, s) => (s.reward > a.reward ? s : a), samples[0]!);
      process.stderr.write(`step ${step}: best completion (reward ${best.reward.toFixed(3)}): ${JSON.stringify(best.completion).slice(0, 300)}\n`);
    }
  }
}

const scalar = (t: TensorData) => (t.data as Float32Array)[0]!;
