/**
 * Reward functions for `ortrl train grpo --reward-funcs examples/grpo/rewards.ts:NAME` (loaded
 * without a build step). Each receives one batch — prompts, completions, completionIds and every
 * dataset column (here `answer`) aligned with the completions — and returns one number (or null)
 * per completion.
 */
import type { RewardArgs } from "@ortrl/core";

/** 1 when the completion mentions the row's `answer` word again, else 0. */
export function mentionsAnswer({ completions, answer }: RewardArgs): number[] {
  return completions.map((c, i) => (String(c).toLowerCase().includes(String(answer[i]).toLowerCase()) ? 1 : 0));
}

/** Prefers completions that end (EOS) within 16 tokens; async functions of a step run together. */
export async function concise({ completionIds }: RewardArgs): Promise<number[]> {
  return completionIds.map((ids) => (ids.length <= 16 ? 1 : 0));
}
