/**
 * The GRPO rollout (the objective's `prepareStep`, TRL's `_generate_and_score_completions`): for a
 * step's prompts,
 *   1. sample numGenerations completions per prompt with the CURRENT policy through the Sampler seam
 *      (one batched KV-cache generation, seeded from the step's random stream);
 *   2. score them with every reward function (the dataset's columns passed along) and sum with the
 *      weights;
 *   3. group-relative advantages: A = (r - mean_group) / (std + 1e-4) (scaleRewards);
 *   4. old log-probs (when the rollout is reused for numIterations > 1 steps) and reference log-probs
 *      (when beta > 0), each one forward over the prompt groups as branched rows (prompt computed once),
 *      with the logits divided by the sampling temperature as in the update;
 *   5. TRL's rollout metrics.
 */
import {
  type BranchedRow,
  type CausalLM,
  type Metrics,
  type NamedReward,
  type ReferenceModel,
  type RewardArgs,
  type Rng,
  type Sampler,
  type ScoreBatch,
  type TokenizerLike,
  branchValues,
  collateBranched,
  groupAdvantages,
  scoreCompletions,
  unbiasedStd,
} from "@ortrl/core";
import type { GrpoConfig } from "./grpo-config.js";
import type { GrpoExample } from "./grpo-data.js";

/** One sampled completion: a row of the policy update. */
export interface GrpoRow {
  /** Index of its prompt within the rollout (rows of one prompt are consecutive). */
  group: number;
  promptIds: number[];
  completionIds: number[];
  /** Whether the completion counts in the loss (false: truncated and maskTruncatedCompletions). */
  scored: boolean;
  /** Group-relative advantage. */
  advantage: number;
  /** Log-probs of the completion's tokens under the policy at rollout time (numIterations > 1). */
  oldLogps: Float32Array | null;
  /** Log-probs under the reference model (beta > 0). */
  refLogps: Float32Array | null;
}

/** A sampled completion as written to completions.jsonl. */
export interface CompletionSample {
  prompt: string | unknown[];
  completion: string | unknown[];
  reward: number;
  rewards: Record<string, number | null>;
  advantage: number;
}

export interface RolloutDeps {
  policy: { lm: CausalLM };
  sampler: Sampler;
  /** Null when beta = 0 (no reference forward at all). */
  reference: ReferenceModel | null;
  rewards: readonly NamedReward[];
  tokenizer: TokenizerLike;
  config: GrpoConfig;
  padId: number;
}

export interface Rollout {
  rows: GrpoRow[];
  metrics: Metrics;
  /** prompt + completion tokens of every completion (TRL's num_tokens). */
  numTokens: number;
  samples: CompletionSample[];
}

/**
 * Samples, scores and prepares one rollout.
 * @param step the optimizer step (for reward error messages); -1 for evaluation.
 * @throws RewardError naming the function, step and index when a reward function fails.
 */
export async function rollout(deps: RolloutDeps, prompts: readonly GrpoExample[], rng: Rng, step: number): Promise<Rollout> {
  const { config: c, tokenizer: tok } = deps;
  const G = c.numGenerations;
  const promptIds = prompts.flatMap((p) => Array.from({ length: G }, () => p.promptIds));
  const out = await deps.sampler.generate(promptIds, {
    maxNewTokens: c.maxCompletionLength,
    temperature: c.temperature,
    topP: c.topP,
    topK: c.topK ?? 0,
    eosTokenId: tok.eosTokenId ?? undefined,
    padTokenId: deps.padId,
    seed: rng.int(0, 2 ** 31 - 1),
  });
  const texts = out.completions.map((ids) => tok.decode(ids, { skipSpecialTokens: true }));
  const args = rewardArgs(prompts, G, texts, out.completions);
  const scores = await scoreCompletions(deps.rewards, args, step < 0 ? "evaluation" : step);
  if (scores.allNull > 0) {
    process.emitWarning(`${step < 0 ? "evaluation" : `step ${step}`}: ${scores.allNull} of ${texts.length} completions got null from every reward function; their reward is 0`, { code: "ORTRL_GRPO_NULL_REWARD" });
  }
  const { advantages, groupStd } = groupAdvantages(scores.total, G, c.scaleRewards);
  if (c.maskTruncatedCompletions && out.finished.every((f) => !f)) {
    throw new Error(
      `${step < 0 ? "evaluation" : `step ${step}`}: every completion reached maxCompletionLength (${c.maxCompletionLength} tokens) without EOS and maskTruncatedCompletions masks them all: nothing to train on; raise maxCompletionLength`,
    );
  }
  const rows: GrpoRow[] = out.completions.map((ids, i) => ({
    group: Math.floor(i / G),
    promptIds: promptIds[i]!,
    completionIds: ids,
    scored: out.finished[i]! || !c.maskTruncatedCompletions,
    advantage: advantages[i]!,
    oldLogps: null,
    refLogps: null,
  }));
  const groupsPerBatch = Math.max(1, Math.floor(c.perDeviceTrainBatchSize / G));
  // Log-probs at the sampling temperature, as the policy's in the update (TRL divides the logits by it).
  const temperature = { temperature: c.temperature };
  if (c.numIterations > 1) await fillLogps(rows, G, groupsPerBatch, deps.padId, (sb) => deps.policy.lm.scoreLogps(sb, temperature), "oldLogps");
  if (c.beta > 0 && deps.reference) await fillLogps(rows, G, groupsPerBatch, deps.padId, (sb) => deps.reference!.scoreLogps(sb, temperature), "refLogps");
  const samples = rows.map((r, i) => ({
    prompt: args.prompts[i]!,
    completion: args.completions[i]!,
    reward: scores.total[i]!,
    rewards: Object.fromEntries(deps.rewards.map((f, j) => [f.name, Number.isNaN(scores.perFunction[j]![i]!) ? null : scores.perFunction[j]![i]!])),
    advantage: r.advantage,
  }));
  return {
    rows,
    metrics: rolloutMetrics(scores.total, groupStd, scores.perFunction, deps.rewards, out.completions, out.finished),
    numTokens: rows.reduce((n, r) => n + r.promptIds.length + r.completionIds.length, 0),
    samples,
  };
}

/** Reward-function arguments: prompts and columns repeated per generation; conversational completions as messages. */
function rewardArgs(prompts: readonly GrpoExample[], G: number, texts: string[], ids: number[][]): RewardArgs {
  const rep = <T>(f: (p: GrpoExample) => T) => prompts.flatMap((p) => Array.from({ length: G }, () => f(p)));
  const columns = new Set(prompts.flatMap((p) => Object.keys(p.columns)));
  const args: RewardArgs = {
    prompts: rep((p) => p.prompt),
    completions: texts.map((t, i) => (prompts[Math.floor(i / G)]!.conversational ? [{ role: "assistant", content: t }] : t)),
    completionIds: ids,
  };
  for (const col of columns) if (!(col in args)) args[col] = rep((p) => p.columns[col]);
  return args;
}

/** Fills `key` of every row with per-token log-probs, one branched row per prompt group. */
async function fillLogps(rows: GrpoRow[], G: number, groupsPerBatch: number, padId: number, score: (sb: ScoreBatch) => Promise<Float32Array>, key: "oldLogps" | "refLogps"): Promise<void> {
  for (let g0 = 0; g0 < rows.length; g0 += G * groupsPerBatch) {
    const chunk = rows.slice(g0, g0 + G * groupsPerBatch);
    const branched: BranchedRow[] = [];
    for (let i = 0; i < chunk.length; i += G) branched.push({ prefix: chunk[i]!.promptIds, branches: chunk.slice(i, i + G).map((r) => r.completionIds) });
    const sb = collateBranched(branched, padId);
    const values = branchValues(await score(sb), sb);
    chunk.forEach((r, i) => (r[key] = values[Math.floor(i / G)]![i % G]!));
  }
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** TRL's rollout metrics (reward_std = mean of the per-group stds; lengths in tokens). */
export function rolloutMetrics(
  total: Float64Array,
  groupStd: Float64Array,
  perFunction: readonly Float64Array[],
  rewards: readonly NamedReward[],
  completions: readonly number[][],
  finished: readonly boolean[],
): Metrics {
  const m: Metrics = {};
  m.reward = mean(Array.from(total));
  m.reward_std = mean(Array.from(groupStd));
  rewards.forEach((r, j) => {
    const xs = Array.from(perFunction[j]!).filter((v) => !Number.isNaN(v));
    m[`rewards/${r.name}/mean`] = mean(xs);
    m[`rewards/${r.name}/std`] = unbiasedStd(xs);
  });
  m.frac_reward_zero_std = mean(Array.from(groupStd, (s) => (Math.abs(s) <= 1e-8 ? 1 : 0)));
  const lengths = completions.map((c) => c.length);
  const terminated = lengths.filter((_, i) => finished[i]);
  m["completions/mean_length"] = mean(lengths);
  m["completions/min_length"] = Math.min(...lengths);
  m["completions/max_length"] = Math.max(...lengths);
  m["completions/clipped_ratio"] = mean(finished.map((f) => (f ? 0 : 1)));
  m["completions/mean_terminated_length"] = mean(terminated);
  m["completions/min_terminated_length"] = terminated.length ? Math.min(...terminated) : 0;
  m["completions/max_terminated_length"] = terminated.length ? Math.max(...terminated) : 0;
  return m;
}
