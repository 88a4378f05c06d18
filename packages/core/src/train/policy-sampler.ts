/**
 * The default Sampler (the seam in seams.ts): batched KV-cache generation from a Policy's current weights
 * (adapter included), as GRPO uses to draw num_generations completions per prompt.
 */
import { type GenerateOptions, type GenerateOutput, generate } from "../generate/generate.js";
import type { CausalLM } from "../model/causal-lm.js";
import type { Policy, Sampler } from "./seams.js";

export class PolicySampler implements Sampler {
  /**
   * @param policy with `trainable` given, the base weights it does not train (all of them under LoRA) are
   *   embedded in the decode session ({@link CausalLM.withFrozenBase}: faster decode steps, a packed copy of
   *   those weights in memory); without it every weight is fed per step.
   */
  constructor(private readonly policy: Pick<Policy, "lm"> & Partial<Pick<Policy, "trainable">>) {}

  /** See {@link generate}: prompts are token ids; completions exclude the prompt. */
  generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateOutput> {
    const t = this.policy.trainable;
    return generate(t ? this.policy.lm.withFrozenBase(t.names) : this.policy.lm, prompts, opts);
  }
}
