/**
 * The default Policy: a Llama-family causal LM trained in full or through a LoRA adapter.
 * With LoRA the base weights are frozen (no gradient work) and only lora_A/lora_B (plus
 * modules_to_save) are trainable; `r: 0` or no LoRA config means full fine-tuning. The policy never
 * changes the CausalLM it is given (it computes through `base.withAdapter(adapter)`).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { openModelWeights } from "../io/model-weights.js";
import type { LlamaConfig } from "../model/llama-config.js";
import { assertFinite } from "../model/weight-checks.js";
import { createLoraAdapter, type LoraAdapter } from "../lora/adapter.js";
import { type LoraConfig, resolveLoraConfig } from "../lora/lora-config.js";
import { loadPeftAdapter, readPeftConfig, savePeftAdapter } from "../lora/peft-io.js";
import type { CausalLM } from "../model/causal-lm.js";
import { type PretrainedModel, copyTokenizerFiles, savePretrained } from "../model/pretrained.js";
import { type ParamSource, ParamView } from "../params/param-store.js";
import { ByteTokenizer } from "../tokenizer/byte-tokenizer.js";
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import type { Policy } from "./seams.js";

export class CausalLmPolicy implements Policy {
  /** The model as trained: `base` with the adapter attached (LoRA), or `base` itself. */
  readonly lm: CausalLM;
  readonly trainable: ParamSource;

  /**
   * @param base the model to train; it is not changed (with LoRA the policy computes through a view
   *   of it with the adapter attached; full fine-tuning updates its parameters in place).
   */
  constructor(
    base: CausalLM,
    readonly config: LlamaConfig,
    readonly tokenizer: TokenizerLike,
    readonly adapter: LoraAdapter | null,
    /** Directory the base model came from (tokenizer files are copied from it on save). */
    readonly sourceDir: string | null,
  ) {
    if (adapter) {
      this.lm = base.withAdapter(adapter);
      this.trainable = new ParamView([
        { source: adapter.params, names: adapter.params.names },
        { source: base.params, names: adapter.modulesToSave },
      ]);
    } else {
      this.lm = base;
      this.trainable = base.params;
    }
  }

  /**
   * Wraps a loaded model. `lora` (with r > 0) attaches a freshly initialised adapter (seeded);
   * `adapterDir` instead continues training an existing PEFT adapter (its own LoRA config, dropout
   * included).
   * @throws Error when the model has no tokenizer, the LoRA config is invalid, both `lora` and
   *   `adapterDir` are given, or the adapter directory is unusable (naming the file).
   */
  static fromPretrained(model: PretrainedModel, lora: Partial<LoraConfig> | null, seed: number, opts: { adapterDir?: string | null } = {}): CausalLmPolicy {
    if (!model.tokenizer) throw new Error(`${model.dir}: no tokenizer.json; training needs a tokenizer`);
    if (opts.adapterDir) {
      if (lora) throw new Error(`--adapter ${opts.adapterDir} continues an existing adapter with its own LoRA config; drop the LoRA options (--lora-r, --lora-alpha, --target-modules, ...)`);
      const loaded = loadPeftAdapter(opts.adapterDir, model.config, model.lm.params);
      const adapter = { ...loaded, placement: { ...loaded.placement, dropout: loaded.config.loraDropout > 0 } };
      return new CausalLmPolicy(model.lm, model.config, model.tokenizer, adapter, model.dir);
    }
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

  /**
   * Reads back the trained tensors of a checkpoint written by {@link save}.
   * @throws Error naming the checkpoint and the field when it was trained differently: a full model
   *   resumed as LoRA or the reverse, or another r, lora_alpha, use_rslora, target modules or
   *   modules_to_save (resuming with other LoRA options would silently train a different adapter).
   */
  restore(dir: string): void {
    const isAdapterDir = existsSync(join(dir, "adapter_config.json"));
    if (this.adapter) {
      if (!isAdapterDir) throw new Error(`${dir} holds a full model (no adapter_config.json) but this run trains a LoRA adapter; resume without the LoRA options`);
      const ck = readPeftConfig(dir);
      const mine = this.adapter.config;
      const describe = (c: LoraConfig) => `r ${c.r}, lora_alpha ${c.loraAlpha}, target_modules ${JSON.stringify(c.targetModules)}${c.useRslora ? ", use_rslora" : ""}${c.modulesToSave.length ? `, modules_to_save ${c.modulesToSave.join(",")}` : ""}`;
      const differs = (field: string, a: unknown, b: unknown) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          throw new Error(`${join(dir, "adapter_config.json")}: ${field} is ${JSON.stringify(a)} but this run's is ${JSON.stringify(b)}; resume with the checkpoint's LoRA options (${describe(ck)})`);
        }
      };
      differs("r", ck.r, mine.r);
      differs("lora_alpha", ck.loraAlpha, mine.loraAlpha);
      differs("use_rslora", ck.useRslora, mine.useRslora);
      differs("modules_to_save", [...ck.modulesToSave].sort(), [...mine.modulesToSave].sort());
      const loaded = loadPeftAdapter(dir, this.config, this.lm.params);
      differs("target_modules (adapted layers)", [...loaded.placement.modules].sort().join(","), [...this.adapter.placement.modules].sort().join(","));
      for (const n of this.adapter.params.names) this.adapter.params.get(n).set(loaded.params.get(n));
      return;
    }
    if (isAdapterDir) {
      const ck = readPeftConfig(dir);
      throw new Error(`${dir} holds a LoRA adapter (r ${ck.r}, lora_alpha ${ck.loraAlpha}, target_modules ${JSON.stringify(ck.targetModules)}) but this run trains all parameters; resume with the LoRA options it was trained with`);
    }
    const w = openModelWeights(dir);
    try {
      for (const n of this.lm.params.names) {
        w.readFloat32Into(n, this.lm.params.get(n));
        assertFinite(this.lm.params.get(n), join(dir, "model.safetensors"), n);
      }
    } finally {
      w.close();
    }
  }

}
