/**
 * The default Sampler (the seam in seams.ts): batched KV-cache generation from a Policy's current weights
 * (adapter included), as GRPO uses to draw num_generations completions per prompt.
 */
import { type GenerateOptions, type GenerateOutput, generate } from "../generate/generate.js";
import type { Policy, Sampler } from "./seams.js";

export class PolicySampler implements Sampler {
  constructor(private readonly policy: Pick<Policy, "lm">) {}

  /** See {@link generate}: prompts are token ids; completions exclude the prompt. */
  generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateOutput> {
    return generate(this.policy.lm, prompts, opts);
  }
}
