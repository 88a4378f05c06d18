/**
 * The default Policy: a Llama-family causal LM trained in full or through a LoRA adapter.
 * With LoRA the base weights are frozen (no gradient work) and only lora_A/lora_B (plus
 * modules_to_save) are trainable; `r: 0` or no LoRA config means full fine-tuning.
 */
import { resolve } from "node:path";
import type { LlamaConfig } from "../io/hf-model-dir.js";
import { openModelWeights } from "../io/hf-model-dir.js";
import { createLoraAdapter, type LoraAdapter } from "../lora/adapter.js";
import { type LoraConfig, resolveLoraConfig } from "../lora/lora-config.js";
import { loadPeftAdapter, savePeftAdapter } from "../lora/peft-io.js";
import type { CausalLM } from "../model/causal-lm.js";
import { type PretrainedModel, copyTokenizerFiles, savePretrained } from "../model/pretrained.js";
import { type ParamSource, ParamView } from "../params/param-store.js";
import { ByteTokenizer, type TokenizerLike } from "../tokenizer/tokenizer.js";
import type { Policy } from "./seams.js";

export class CausalLmPolicy implements Policy {
  readonly trainable: ParamSource;

  constructor(
    readonly lm: CausalLM,
    readonly config: LlamaConfig,
    readonly tokenizer: TokenizerLike,
    readonly adapter: LoraAdapter | null,
    /** Directory the base model came from (tokenizer files are copied from it on save). */
    readonly sourceDir: string | null,
  ) {
    if (adapter) {
      lm.adapter = adapter;
      lm.adapterEnabled = true;
      this.trainable = new ParamView([
        { source: adapter.params, names: adapter.params.names },
        { source: lm.params, names: adapter.modulesToSave },
      ]);
    } else {
      this.trainable = lm.params;
    }
  }

  /**
   * Wraps a loaded model; `lora` (with r > 0) attaches a freshly initialised adapter (seeded).
   * @throws Error when the model has no tokenizer or the LoRA config is invalid.
   */
  static fromPretrained(model: PretrainedModel, lora: Partial<LoraConfig> | null, seed: number): CausalLmPolicy {
    if (!model.tokenizer) throw new Error(`${model.dir}: no tokenizer.json; training needs a tokenizer`);
    const cfg = lora ? resolveLoraConfig(lora) : null;
    const adapter = cfg && cfg.r > 0 ? createLoraAdapter(model.config, cfg, model.lm.params, seed) : null;
    return new CausalLmPolicy(model.lm, model.config, model.tokenizer, adapter, model.dir);
  }

  /** Whether the trained tensors form a PEFT adapter (LoRA) rather than a full model. */
  get isAdapter(): boolean {
    return this.adapter !== null;
  }

  async save(dir: string): Promise<void> {
    if (this.adapter) {
      savePeftAdapter(dir, this.adapter, this.lm.params, this.sourceDir ? resolve(this.sourceDir) : "");
      await this.saveTokenizer(dir);
    } else {
      await savePretrained(dir, {
        config: this.config,
        params: this.lm.params,
        tokenizerFrom: this.sourceDir ?? undefined,
        tokenizer: this.sourceDir ? undefined : this.tokenizer,
      });
    }
  }

  private async saveTokenizer(dir: string): Promise<void> {
    if (this.sourceDir) copyTokenizerFiles(this.sourceDir, dir);
    else if (this.tokenizer instanceof ByteTokenizer) await this.tokenizer.saveTo(dir);
  }

  restore(dir: string): void {
    if (this.adapter) {
      const loaded = loadPeftAdapter(dir, this.config, this.lm.params);
      for (const n of this.adapter.params.names) this.adapter.params.get(n).set(loaded.params.get(n));
      return;
    }
    const w = openModelWeights(dir);
    try {
      for (const n of this.lm.params.names) w.readFloat32Into(n, this.lm.params.get(n));
    } finally {
      w.close();
    }
  }
}
