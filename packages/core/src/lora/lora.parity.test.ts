/**
 * LoRA parity with the PyTorch reference (../shared/fixtures/tiny-llama/adapter, r=4, alpha 8):
 * logits (|d| <= 1e-5 + 1e-4|want|), loss and every lora_grad tensor (|d| <= 1e-6 + 1e-3|want|),
 * merged weights (1e-5 + 1e-4), unmerge restoring the base (|d| <= 1e-6), and a disabled adapter
 * giving the base model's logits.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../runtime/runtime.js";
import { compareArrays, openFixtureTensors, readExpectedJson, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { type PretrainedModel, loadPretrained } from "../model/pretrained.js";
import { padBatch, batchFeeds } from "../model/batch.js";
import { buildCausalLmTrainGraph } from "../train/causal-lm-graph.js";
import { attachAdapterFromDir, loadPeftAdapter } from "./peft-io.js";
import { mergeAndUnload, mergeLora, unmergeLora } from "./merge.js";
import type { LoraAdapter } from "./adapter.js";
import type { CausalLM } from "../model/causal-lm.js";

const runtime = new Runtime();
const exp = readExpectedJson("tiny-llama");
const masks: number[][] = exp["batch.attention_mask"];
const lens = masks.map((r) => r.reduce((a, b) => a + b, 0));
const batch = padBatch(
  (exp["batch.input_ids"] as number[][]).map((r, i) => r.slice(0, lens[i])),
  { labels: (exp["batch.labels"] as number[][]).map((r, i) => r.slice(0, lens[i])), length: 12 },
);
const want = openFixtureTensors("tiny-llama");
const realRows = (V: number) => (i: number) => masks.flat()[Math.floor(i / V)] === 1;

describe("PEFT LoRA adapter on tiny-llama", () => {
  let m: PretrainedModel;
  let adapter: LoraAdapter;
  let adapted: CausalLM;
  beforeAll(async () => {
    m = await loadPretrained(`${TINY_LLAMA_DIR}model`, runtime);
    ({ lm: adapted, adapter } = await attachAdapterFromDir(m.lm, `${TINY_LLAMA_DIR}adapter`));
  });

  it("reads the adapter config and tensors", () => {
    expect(adapter.placement.r).toBe(4);
    expect(adapter.placement.scaling).toBe(2);
    expect(adapter.placement.modules.size).toBe(14);
    expect(adapter.params.shape("model.layers.0.self_attn.q_proj.lora_A.weight")).toEqual([4, 48]);
    expect(adapter.params.shape("model.layers.1.mlp.down_proj.lora_B.weight")).toEqual([48, 4]);
  });

  it("logits and loss match lora_logits / lora.loss", async () => {
    const logits = await adapted.logits(batch);
    expect(compareArrays(logits, want.readFloat32("lora_logits"), 1e-4, 1e-5, realRows(97))).toBeNull();
    const { lossSum, count } = await adapted.lossSum(batch);
    expect(Math.abs(lossSum / count - exp["lora.loss"])).toBeLessThan(1e-4 * exp["lora.loss"]);
  });

  it("gradients of every lora_A / lora_B match", async () => {
    const names = adapter.params.names;
    const tg = buildCausalLmTrainGraph(m.config, names, adapter.placement);
    expect(tg.lg.weights.size).toBe(m.lm.params.names.length);
    const exe = await runtime.compile(tg.lg.graph, tg.outputs);
    const out = await exe.run({ ...m.lm.params.feeds(), ...adapter.params.feeds(), ...batchFeeds(batch), num_items_in_batch: { data: Float32Array.of(13), dims: [] } });
    for (const n of names) {
      const diff = compareArrays(out[`grad.${n}`]!.data as Float32Array, want.readFloat32(`lora_grad.base_model.model.${n}`), 1e-3, 1e-6);
      expect(diff, n).toBeNull();
    }
    // Frozen base weights get no gradient outputs at all.
    expect(Object.keys(out).filter((k) => k.startsWith("grad.") && !k.includes("lora_"))).toEqual([]);
  });

  it("the model it was loaded onto is unchanged, and withoutAdapter() gives the base model", async () => {
    expect(m.lm.adapter).toBeNull();
    for (const lm of [m.lm, adapted.withoutAdapter()]) {
      const logits = await lm.logits(batch);
      expect(compareArrays(logits, want.readFloat32("logits"), 1e-4, 1e-5, realRows(97))).toBeNull();
    }
  });

  it("merge reproduces merged.* and unmerge restores the base", async () => {
    const base = m.lm.params.clone();
    const merged = m.lm.params.clone();
    mergeLora(merged, adapter);
    for (const mod of adapter.placement.modules) {
      const diff = compareArrays(merged.get(`${mod}.weight`), want.readFloat32(`merged.${mod}.weight`), 1e-4, 1e-5);
      expect(diff, mod).toBeNull();
    }
    unmergeLora(merged, adapter);
    for (const n of base.names) expect(compareArrays(merged.get(n), base.get(n), 0, 1e-6), n).toBeNull();
  });
});

describe("mergeAndUnload", () => {
  it("folds the adapter into the base: same logits without the adapter path", async () => {
    const m = await loadPretrained(`${TINY_LLAMA_DIR}model`, runtime);
    const { lm } = await attachAdapterFromDir(m.lm, `${TINY_LLAMA_DIR}adapter`);
    const merged = mergeAndUnload(lm);
    expect(merged.adapter).toBeNull();
    const logits = await merged.logits(batch);
    expect(compareArrays(logits, want.readFloat32("lora_logits"), 1e-4, 1e-5, realRows(97))).toBeNull();
    expect(() => mergeAndUnload(merged)).toThrow(/no adapter/);
  });
});

describe("bad adapters", () => {
  it("names the directory when adapter_config.json is missing", async () => {
    const m = await loadPretrained(`${TINY_LLAMA_DIR}model`, runtime);
    expect(() => loadPeftAdapter(`${TINY_LLAMA_DIR}model`, m.config, m.lm.params)).toThrow(/tiny-llama\/model: no adapter_config.json/);
  });
});
