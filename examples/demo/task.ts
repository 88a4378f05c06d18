/**
 * The demo's synthetic task: two-digit addition, "Q: What is 17 + 25?\nA: " -> "42".
 * All 8,100 problems with operands 10..99; a seeded shuffle holds some out for evaluation.
 */
import { Rng } from "@ortrl/core";

export interface Problem {
  a: number;
  b: number;
}

export const prompt = (p: Problem): string => `Q: What is ${p.a} + ${p.b}?\nA: `;
export const answer = (p: Problem): string => String(p.a + p.b);

/** Train/held-out split of every problem. */
export function splitProblems(heldOut: number, seed: number): { train: Problem[]; test: Problem[] } {
  const all: Problem[] = [];
  for (let a = 10; a < 100; a++) for (let b = 10; b < 100; b++) all.push({ a, b });
  new Rng(seed).shuffle(all);
  return { test: all.slice(0, heldOut), train: all.slice(heldOut) };
}
