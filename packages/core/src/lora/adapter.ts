/**
 * A LoRA adapter: its config, placement on the decoder, and weights in a ParamStore named
 * `<module>.lora_A.weight` ([r, in]) and `<module>.lora_B.weight` ([out, r]).
 * Initialisation follows PEFT's default (`init_lora_weights=True`): A ~ kaiming_uniform(a=sqrt(5)),
 * i.e. U(-1/sqrt(in), 1/sqrt(in)); B = 0, so a fresh adapter leaves the model unchanged.
 */
import type { LlamaArch } from "../model/llama-arch.js";
import { layerLinears } from "../model/llama-arch.js";
import type { LoraPlacement } from "../model/llama.js";
import { ParamStore } from "../params/param-store.js";
import { Rng } from "../util/rng.js";
import { type LoraConfig, loraScaling, resolveModulesToSave, resolveTargetModules } from "./lora-config.js";

export interface LoraAdapter {
  config: LoraConfig;
  placement: LoraPlacement;
  /** lora_A / lora_B tensors. */
  params: ParamStore;
  /** Base tensor names trained fully (modules_to_save). */
  modulesToSave: string[];
  /** Copies of the modules_to_save tensors before training (what a disabled adapter uses). */
  originals: Map<string, Float32Array>;
}

/** Shapes of every LoRA tensor for a placement. */
export function loraParamSpecs(arch: LlamaArch, modules: ReadonlySet<string>, r: number): { name: string; shape: number[] }[] {
  const specs: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < arch.numHiddenLayers; i++) {
    for (const l of layerLinears(arch)) {
      const m = `model.layers.${i}.${l.name}`;
      if (!modules.has(m)) continue;
      specs.push({ name: `${m}.lora_A.weight`, shape: [r, l.in] }, { name: `${m}.lora_B.weight`, shape: [l.out, r] });
    }
  }
  return specs;
}

/**
 * A freshly initialised adapter.
 * @param baseParamNames names of the base parameters (to resolve modules_to_save).
 * @param baseParams the base store (modules_to_save originals are copied from it).
 * @throws Error when config.r is 0 (full fine-tuning has no adapter) or targets match nothing.
 */
export function createLoraAdapter(arch: LlamaArch, config: LoraConfig, baseParams: ParamStore, seed = 0): LoraAdapter {
  if (config.r === 0) throw new Error("createLoraAdapter: r = 0 means full fine-tuning; no adapter to create");
  const modules = resolveTargetModules(arch, config);
  const params = new ParamStore(loraParamSpecs(arch, modules, config.r));
  const rng = new Rng(seed);
  for (const name of params.names) {
    if (!name.endsWith("lora_A.weight")) continue;
    const a = params.get(name);
    const bound = 1 / Math.sqrt(params.shape(name)[1]!);
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
  }
  const modulesToSave = resolveModulesToSave(baseParams.names, config);
  const originals = new Map(modulesToSave.map((n) => [n, Float32Array.from(baseParams.get(n))]));
  return {
    config,
    placement: { r: config.r, scaling: loraScaling(config), modules, dropout: config.loraDropout > 0 },
    params,
    modulesToSave,
    originals,
  };
}
