/**
 * The reward contract (GRPO and other online methods): functions written in TypeScript that score a
 * batch of completions.
 *
 * A `RewardFn` receives ONE object per batch (TRL's keyword arguments, camelCased):
 *   - `prompts`: the prompt of each completion (text, or a message list for conversational data),
 *   - `completions`: each completion (text, or `[{ role: "assistant", content }]` for conversational data),
 *   - `completionIds`: each completion's token ids,
 *   - every other dataset column under its own name, as an array aligned with the completions (each
 *     prompt's value repeated for its generations),
 * and returns one `number | null` per completion, sync or async (null = not applicable to that
 * completion). The async functions of a batch run together. A completion whose functions all return
 * null gets reward 0, with a warning.
 *
 * Anything else stops the run with an error naming the function, the step and the first bad index:
 * a function that throws or rejects, returns a promise that can never settle, something that is not an
 * array, the wrong number of values, NaN/Infinity, or a value that is neither a number nor null. Each
 * function receives its own copy of the arguments (changing them changes nothing else).
 */
import type { ChatMessage } from "../tokenizer/chat-template.js";

/** What a reward function receives (see the file comment). */
export interface RewardArgs {
  prompts: (string | ChatMessage[])[];
  completions: (string | ChatMessage[])[];
  completionIds: number[][];
  /** Every other dataset column, one entry per completion. */
  [column: string]: unknown[];
}

/** Scores completions: one number per completion (null = not applicable). */
export const RewardFn = Symbol.for("ortrl.RewardFn");
export type RewardFn = (args: RewardArgs) => (number | null)[] | Promise<(number | null)[]>;

/** A reward function with a name (the metric key `rewards/<name>/mean`) and a weight (default 1). */
export interface NamedReward {
  name: string;
  fn: RewardFn;
  weight?: number;
}

/** A reward function failed or returned something unusable; names the function, step and index. */
export class RewardError extends Error {
  override name = "RewardError";
}

/** Scores of one batch. */
export interface RewardScores {
  /** Per function (in order), per completion; NaN where the function returned null. */
  perFunction: Float64Array[];
  /** Weighted sum per completion (functions that returned null are left out; all null = 0). */
  total: Float64Array;
  /** Completions for which every function returned null. */
  allNull: number;
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? `the string ${JSON.stringify(v.slice(0, 40))}` : typeof v);

/** Rejects when the event loop runs dry while `p` is pending: a promise that can never settle. */
function settlesOrFails<T>(p: Promise<T>, message: () => string): Promise<T> {
  let onExit: (() => void) | null = null;
  const never = new Promise<never>((_, reject) => {
    onExit = () => reject(new RewardError(message()));
    process.once("beforeExit", onExit);
  });
  return Promise.race([p, never]).finally(() => process.off("beforeExit", onExit!));
}

const errorText = (e: unknown) => (e instanceof Error ? e.message || e.name : typeof e === "object" ? JSON.stringify(e) : String(e)) || "(no message)";

/**
 * Runs every reward function on a batch (async ones together) and checks what they return. Each
 * function gets its own deep copy of the arguments, so one cannot change what another function, the
 * update or completions.jsonl sees.
 * @param where "step N" or "evaluation", for messages.
 * @throws RewardError naming the function, where, and the first bad index.
 */
export async function scoreCompletions(rewards: readonly NamedReward[], args: RewardArgs, where: number | string): Promise<RewardScores> {
  const at = typeof where === "number" ? `step ${where}` : where;
  const n = args.completions.length;
  const results = await Promise.all(
    rewards.map(async (r) => {
      let out: unknown;
      try {
        out = await settlesOrFails(Promise.resolve().then(() => r.fn(structuredClone(args))), () => `reward function '${r.name}' returned a promise that can never settle (${at})`);
      } catch (e) {
        if (e instanceof RewardError) throw e;
        throw new RewardError(`reward function '${r.name}' threw at ${at}: ${errorText(e)}`);
      }
      if (!Array.isArray(out)) throw new RewardError(`reward function '${r.name}' returned ${describe(out)} at ${at}; expected an array of ${n} numbers (one per completion, null = not applicable)`);
      if (out.length !== n) throw new RewardError(`reward function '${r.name}' returned ${out.length} values at ${at}; expected ${n} (one per completion)`);
      const scores = new Float64Array(n);
      out.forEach((v: unknown, i: number) => {
        if (v === null || v === undefined) {
          if (v === undefined) throw new RewardError(`reward function '${r.name}' returned undefined at index ${i} (${at}); return a number, or null when not applicable`);
          scores[i] = NaN;
        } else if (typeof v !== "number") {
          throw new RewardError(`reward function '${r.name}' returned ${describe(v)} at index ${i} (${at}); expected a number or null`);
        } else if (!Number.isFinite(v)) {
          throw new RewardError(`reward function '${r.name}' returned ${v} at index ${i} (${at}); rewards must be finite (null = not applicable)`);
        } else scores[i] = v;
      });
      return scores;
    }),
  );
  const total = new Float64Array(n);
  let allNull = 0;
  for (let i = 0; i < n; i++) {
    let any = false;
    results.forEach((s, j) => {
      if (!Number.isNaN(s[i]!)) {
        total[i] = total[i]! + s[i]! * (rewards[j]!.weight ?? 1);
        any = true;
      }
    });
    if (!any) allNull++;
  }
  const big = total.findIndex((t) => !Number.isFinite(t) || Math.abs(t) > 1e150);
  if (big >= 0) throw new RewardError(`the weighted reward of completion ${big} is ${total[big]} (${at}): too large for advantages (their standard deviation overflows); scale the reward functions down`);
  return { perFunction: results, total, allNull };
}

/**
 * Group-relative advantages (GRPO, Shao et al. 2024 §4.1.2; TRL's scale_rewards): for groups of
 * `groupSize` consecutive completions, A = r - mean(group), divided by (std + 1e-4) where std is the
 * unbiased standard deviation of the group ("group"), of the whole batch ("batch"), or not at all ("none").
 * @returns advantages and the per-group standard deviations.
 */
export function groupAdvantages(rewards: ArrayLike<number>, groupSize: number, scale: "group" | "batch" | "none"): { advantages: Float64Array; groupStd: Float64Array } {
  const n = rewards.length;
  if (n % groupSize !== 0) throw new RangeError(`groupAdvantages: ${n} rewards do not split into groups of ${groupSize}`);
  const groups = n / groupSize;
  const advantages = new Float64Array(n);
  const groupStd = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    const xs = Array.from({ length: groupSize }, (_, i) => rewards[g * groupSize + i]!);
    const mean = xs.reduce((a, b) => a + b, 0) / groupSize;
    groupStd[g] = unbiasedStd(xs);
    for (let i = 0; i < groupSize; i++) advantages[g * groupSize + i] = xs[i]! - mean;
  }
  const batchStd = unbiasedStd(Array.from(rewards));
  for (let i = 0; i < n; i++) {
    if (scale === "group") advantages[i] = advantages[i]! / (groupStd[Math.floor(i / groupSize)]! + 1e-4);
    else if (scale === "batch") advantages[i] = advantages[i]! / (batchStd + 1e-4);
  }
  return { advantages, groupStd };
}

/** torch.std (Bessel-corrected); 0 for fewer than 2 values. */
export function unbiasedStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
}
