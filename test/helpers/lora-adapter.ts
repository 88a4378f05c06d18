/** A PEFT LoRA adapter saved for a model, with lora_B filled (a fresh adapter has B = 0 and changes nothing). */
import * as F from "@ortrl/core";

export interface NonZeroAdapterOptions {
  targetModules: string | string[];
  /** RNG seed of the lora_B values. */
  seed: number;
  /** One lora_B value from the RNG. */
  value: (rng: F.Rng) => number;
}

/** Saves an r 4, lora_alpha 8 adapter on `m` (loaded from `modelDir`) into `dir`, lora_B drawn by `opts.value`. */
export function saveNonZeroAdapter(dir: string, m: F.PretrainedModel, modelDir: string, opts: NonZeroAdapterOptions): void {
  const adapter = F.createLoraAdapter(m.config, F.resolveLoraConfig({ r: 4, loraAlpha: 8, targetModules: opts.targetModules }), m.lm.params, 1);
  const rng = new F.Rng(opts.seed);
  for (const n of adapter.params.names) {
    if (!n.endsWith("lora_B.weight")) continue;
    const b = adapter.params.get(n);
    for (let i = 0; i < b.length; i++) b[i] = opts.value(rng);
  }
  F.savePeftAdapter(dir, adapter, m.lm.params, modelDir);
}
