/**
 * PEFT adapters must be what their adapter_config.json says: target_modules (narrowed by layers_to_transform and
 * exclude_modules) select exactly the modules that have lora_A/lora_B tensors, modules_to_save lists exactly the
 * saved base tensors, and every value is finite. LoRA target lists whose entries match no linear layer are errors.
 * Bad adapters are copies of the tiny-llama fixture adapter (all seven projections, both layers) with one change.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SafetensorsTensor } from "../io/safetensors.js";
import { editedCopy, errorOf } from "../testing/edits.js";
import { type LlamaConfig, readLlamaConfig } from "../model/llama-config.js";
import { loadWeights } from "../model/pretrained.js";
import { STORIES_DIR, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { createLoraAdapter } from "./adapter.js";
import { resolveLoraConfig, resolveTargetModules } from "./lora-config.js";
import { loadPeftAdapter, readPeftConfig, savePeftAdapter } from "./peft-io.js";

const MODEL = `${TINY_LLAMA_DIR}model`;
const ADAPTER = `${TINY_LLAMA_DIR}adapter`;
let tmp: string;
let config: LlamaConfig;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-peft-"));
  config = readLlamaConfig(MODEL);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture adapter with adapter_config.json changed by `cfg` and its tensors by `tensors`. */
function variant(name: string, edit: { cfg?: (c: Record<string, any>) => void; tensors?: (t: Record<string, SafetensorsTensor>) => void }): string {
  return editedCopy(ADAPTER, path.join(tmp, name), {
    json: edit.cfg && { file: "adapter_config.json", edit: edit.cfg },
    tensors: edit.tensors && { file: "adapter_model.safetensors", edit: edit.tensors },
  });
}

const load = (dir: string) => loadPeftAdapter(dir, config, loadWeights(MODEL, config));

describe("loadPeftAdapter refuses an adapter made for another model", () => {
  it("names the tensor whose shape the model contradicts, and the adapter's base model", () => {
    const stories = readLlamaConfig(STORIES_DIR);
    expect(errorOf(() => loadPeftAdapter(ADAPTER, stories, loadWeights(STORIES_DIR, stories)))).toBe(
      `${path.join(ADAPTER, "adapter_model.safetensors")}: tensor 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight' has shape [4, 96], ` +
        "but the model's 'model.layers.0.mlp.down_proj.weight' is [64, 172], so lora_A must be [r, 172]: the adapter was made for another model " +
        '(adapter_config.json base_model_name_or_path "model")',
    );
  });

  it("names a tensor of a layer the model does not have", () => {
    const oneLayer = { ...config, numHiddenLayers: 1 };
    expect(errorOf(() => loadPeftAdapter(ADAPTER, oneLayer, loadWeights(MODEL, config)))).toMatch(
      /adapter_model\.safetensors: tensor 'base_model\.model\.model\.layers\.1\.[a-z_.]+\.lora_[AB]\.weight' targets unknown module 'model\.layers\.1\.[a-z_.]+' \(the model has 1 layer\): the adapter was made for another model/,
    );
  });
});

describe("loadPeftAdapter checks the tensors against adapter_config.json", () => {
  it("loads the fixture adapter (config and tensors agree)", () => {
    expect(load(ADAPTER).placement.modules.size).toBe(14);
  });

  it("refuses tensors of modules the config does not select", () => {
    const dir = variant("fewer-targets", { cfg: (c) => (c.target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]) });
    expect(errorOf(() => load(dir))).toBe(
      `${dir}: adapter_config.json target_modules ["q_proj","k_proj","v_proj","o_proj"] disagree with adapter_model.safetensors: ` +
        "the tensors adapt 6 module(s) the config does not select: 'model.layers.0.mlp.gate_proj', 'model.layers.0.mlp.up_proj', " +
        "'model.layers.0.mlp.down_proj', 'model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj' (and 1 more)",
    );
  });

  it("refuses a config selecting modules that have no tensors", () => {
    const dir = variant("missing-tensors", {
      tensors: (t) => {
        for (const n of Object.keys(t)) if (n.includes("layers.1.self_attn.v_proj")) delete t[n];
      },
    });
    expect(errorOf(() => load(dir))).toMatch(/target_modules .* disagree with adapter_model\.safetensors: the config selects 1 module\(s\) without lora_A\/lora_B tensors: 'model\.layers\.1\.self_attn\.v_proj'$/);
    // A regex target_modules is resolved the same way.
    const re = variant("regex-targets", { cfg: (c) => (c.target_modules = ".*\\.self_attn\\.(q|k|v|o)_proj") });
    expect(errorOf(() => load(re))).toMatch(/target_modules ".*" disagree with adapter_model\.safetensors: the tensors adapt 6 module\(s\)/);
  });

  it("honours layers_to_transform and exclude_modules when comparing", () => {
    const layer0 = variant("layer0", {
      cfg: (c) => (c.layers_to_transform = [0]),
      tensors: (t) => {
        for (const n of Object.keys(t)) if (n.includes("layers.1.")) delete t[n];
      },
    });
    expect([...load(layer0).placement.modules].every((m) => m.startsWith("model.layers.0."))).toBe(true);
    const excluded = variant("exclude", {
      cfg: (c) => (c.exclude_modules = ["down_proj"]),
      tensors: (t) => {
        for (const n of Object.keys(t)) if (n.includes("down_proj")) delete t[n];
      },
    });
    expect(load(excluded).placement.modules.size).toBe(12);
  });

  it("reads an absent target_modules as PEFT's Llama default (q_proj, v_proj)", () => {
    const dir = variant("default-targets", {
      cfg: (c) => delete c.target_modules,
      tensors: (t) => {
        for (const n of Object.keys(t)) if (!/\.(q|v)_proj\./.test(n)) delete t[n];
      },
    });
    expect(readPeftConfig(dir).targetModules).toEqual(["q_proj", "v_proj"]);
    expect(load(dir).placement.modules.size).toBe(4);
  });

  it("refuses rank_pattern / alpha_pattern and target_modules naming no linear layer", () => {
    const rp = variant("rank-pattern", { cfg: (c) => (c.alpha_pattern = { q_proj: 16 }) });
    expect(errorOf(() => load(rp))).toBe(`${path.join(rp, "adapter_config.json")}: field 'alpha_pattern' is {"q_proj":16}: per-module ranks and alphas are not supported`);
    const foo = variant("foo-target", { cfg: (c) => c.target_modules.push("foo_proj") });
    expect(errorOf(() => load(foo))).toMatch(new RegExp(`^${path.join(foo, "adapter_config.json")}: LoRA target_modules "foo_proj" match no linear layer`));
  });

  it("refuses modules_to_save that disagree with the saved tensors", () => {
    const dir = variant("to-save", { cfg: (c) => (c.modules_to_save = ["embed_tokens"]) });
    expect(errorOf(() => load(dir))).toBe(
      `${dir}: adapter_config.json modules_to_save ["embed_tokens"] disagree with adapter_model.safetensors: no tensor for 'model.embed_tokens.weight'`,
    );
  });

  it("refuses NaN/Inf in an adapter tensor, naming the file and tensor, without touching the base parameters", () => {
    const key = "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight";
    const nan = variant("nan", { tensors: (t) => ((t[key]!.data as Float32Array)[5] = NaN) });
    expect(errorOf(() => load(nan))).toBe(`${path.join(nan, "adapter_model.safetensors")}: tensor '${key}' has 1 NaN/Inf value (first at index 5: NaN)`);

    const embedKey = "base_model.model.model.embed_tokens.weight";
    const base = loadWeights(MODEL, config);
    const before = Float32Array.from(base.get("model.embed_tokens.weight"));
    const inf = variant("inf-to-save", {
      cfg: (c) => (c.modules_to_save = ["embed_tokens"]),
      tensors: (t) => {
        const data = Float32Array.from(base.get("model.embed_tokens.weight"));
        data[0] = Infinity;
        t[embedKey] = { dtype: "F32", shape: [...base.shape("model.embed_tokens.weight")], data };
      },
    });
    expect(errorOf(() => loadPeftAdapter(inf, config, base))).toBe(
      `${path.join(inf, "adapter_model.safetensors")}: tensor '${embedKey}' has 1 NaN/Inf value (first at index 0: Infinity)`,
    );
    expect(base.get("model.embed_tokens.weight")).toEqual(before);
  });

  it("round-trips an adapter ortrl saves (target list, modules_to_save)", () => {
    const base = loadWeights(MODEL, config);
    const cfg = resolveLoraConfig({ r: 2, targetModules: ["q_proj", "down_proj"], modulesToSave: ["lm_head"] });
    // tiny-llama ties its embeddings: lm_head is not a parameter.
    expect(() => createLoraAdapter(config, cfg, base)).toThrow(/modules_to_save entry 'lm_head' matches no parameter/);
    const a = createLoraAdapter(config, { ...cfg, modulesToSave: ["norm"] }, base);
    const dir = path.join(tmp, "saved");
    savePeftAdapter(dir, a, base, MODEL);
    const back = loadPeftAdapter(dir, config, base);
    expect([...back.placement.modules].sort()).toEqual([...a.placement.modules].sort());
    expect(back.modulesToSave).toEqual(["model.norm.weight"]);
  });
});

describe("resolveTargetModules", () => {
  const lora = (targetModules: string[] | string) => resolveLoraConfig({ targetModules });
  it("names list entries that match no linear layer, with the layers there are", () => {
    expect(errorOf(() => resolveTargetModules(config, lora(["q_proj", "foo_proj", "lm_head"])))).toBe(
      'LoRA target_modules "foo_proj", "lm_head" match no linear layer of the model (its linear layers: q_proj, k_proj, v_proj, o_proj, ' +
        "gate_proj, up_proj, down_proj, in model.layers.0-1; embed_tokens and lm_head take modules_to_save, not LoRA)",
    );
    expect(resolveTargetModules(config, lora(["q_proj", "self_attn.v_proj", "model.layers.1.mlp.up_proj"])).size).toBe(5);
  });
  it("keeps regex semantics: an error only when the regex matches nothing", () => {
    expect(resolveTargetModules(config, lora(".*layers\\.0\\..*_proj")).size).toBe(7);
    expect(errorOf(() => resolveTargetModules(config, lora(".*foo")))).toBe('LoRA target_modules ".*foo" match no linear layer of the model');
  });
});
