/**
 * `ortrl inspect` on the real stories260K model (run `npm run build` first): PEFT's trainable-parameter counts
 * of a LoRA adapter against numbers computed by hand from the config, the line `ortrl train` prints at start,
 * "N of M tensors changed" after a short full fine-tune and for a copy of the base, and bad input.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const cfg = JSON.parse(readFileSync(join(MODEL, "config.json"), "utf8"));
const json = (r: { stdout: string }) => JSON.parse(r.stdout);

// By hand from config.json: head_dim = hidden / heads; k/v project to kv_heads · head_dim; tied embeddings once.
const H = cfg.hidden_size as number;
const KV = (cfg.num_key_value_heads * H) / cfg.num_attention_heads;
const I = cfg.intermediate_size as number;
const LINEARS: Record<string, [number, number]> = { q_proj: [H, H], k_proj: [H, KV], v_proj: [H, KV], o_proj: [H, H], gate_proj: [H, I], up_proj: [H, I], down_proj: [I, H] }; // [in, out]
const perLayer = Object.values(LINEARS).reduce((a, [i, o]) => a + i * o, 0) + 2 * H;
const BASE_TOTAL = cfg.vocab_size * H + cfg.num_hidden_layers * perLayer + H;
const loraCount = (r: number, targets: string[]) => cfg.num_hidden_layers * targets.reduce((a, t) => a + r * (LINEARS[t]![0] + LINEARS[t]![1]), 0);
const peftLine = (trainable: number, all: number) =>
  `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${all.toLocaleString("en-US")} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;

let tmp = "";
let adapter = "";
let textData = "";
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-inspect-"));
  const m = await F.loadPretrained(MODEL);
  const a = F.createLoraAdapter(m.config, F.resolveLoraConfig({ r: 4, loraAlpha: 8, targetModules: ["q_proj", "k_proj", "v_proj"] }), m.lm.params, 1);
  adapter = join(tmp, "adapter");
  F.savePeftAdapter(adapter, a, m.lm.params, MODEL);
  // Short {"text"} records: language modeling for SFT, documents for CPT.
  textData = join(tmp, "stories.jsonl");
  const story = (i: number) => ({ text: `Once upon a time, there was a little girl named Lily. She had ${i} red balls and a big dog.` });
  writeFileSync(textData, Array.from({ length: 16 }, (_, i) => JSON.stringify(story(i + 1))).join("\n") + "\n");
});

describe("ortrl inspect: parameter counts", () => {
  it("counts a model's parameters from config shapes, tied embeddings once", () => {
    expect(BASE_TOTAL).toBe(260_032);
    const r = ortrl(["inspect", MODEL]);
    expectOk(r);
    expect(r.stdout).toContain(`${peftLine(BASE_TOTAL, BASE_TOTAL)}\n`);
    expect(r.stdout).toContain("5 layers, hidden size 64");
    const j = json(ortrl(["inspect", MODEL, "--json"]));
    expect(j).toMatchObject({ kind: "model", trainable_params: BASE_TOTAL, all_params: BASE_TOTAL, num_hidden_layers: 5, hidden_size: 64, dtypes: { F32: 47 } });
    expect(j.files).toEqual([
      { name: "config.json", bytes: 514 },
      { name: "model.safetensors", bytes: 1_044_992 },
    ]);
    expect(j.total_bytes).toBe(514 + 1_044_992);
  });

  it("an adapter: trainable = r·(in+out) per target module, all = base + adapter, PEFT's line", () => {
    const trainable = loraCount(4, ["q_proj", "k_proj", "v_proj"]);
    expect(trainable).toBe(6400);
    // base_model_name_or_path is the model's directory, so the base is found without --against.
    for (const args of [[], ["--against", MODEL]]) {
      const r = ortrl(["inspect", adapter, ...args]);
      expectOk(r);
      expect(r.stdout).toContain(`${peftLine(trainable, BASE_TOTAL + trainable)}\n`);
      expect(r.stdout).toContain("trainable%: 2.4021");
      expect(r.stdout).toContain("lora_B non-zero: 0 of 15");
    }
    const j = json(ortrl(["inspect", adapter, "--json"]));
    expect(j).toMatchObject({ kind: "adapter", r: 4, lora_alpha: 8, target_modules: ["k_proj", "q_proj", "v_proj"], use_rslora: false, modules_to_save: [], adapted_modules: 15, lora_b_nonzero: 0, lora_b_tensors: 15, trainable_params: trainable, all_params: BASE_TOTAL + trainable, base_from: "base_model_name_or_path" });
    expect(j.trainable_percent).toBeCloseTo((100 * trainable) / (BASE_TOTAL + trainable), 12);
  });

  it("an adapter whose base cannot be found prints the trainable count only", () => {
    const moved = join(tmp, "adapter-nobase");
    cpSync(adapter, moved, { recursive: true });
    const c = JSON.parse(readFileSync(join(moved, "adapter_config.json"), "utf8"));
    writeFileSync(join(moved, "adapter_config.json"), JSON.stringify({ ...c, base_model_name_or_path: "some-org/some-model" }));
    const r = ortrl(["inspect", moved, "--json"]);
    expectOk(r);
    expect(json(r)).toMatchObject({ trainable_params: 6400, all_params: null, trainable_percent: null, base: null });
  });

  it("ortrl train prints the same line at start, for LoRA and for full fine-tuning", () => {
    const common = ["--model", MODEL, "--data", textData, "--max-seq-length", "64", "--per-device-train-batch-size", "2", "--max-steps", "1", "--save-steps", "0"];
    const lora = ortrl(["train", "sft", ...common, "--output-dir", join(tmp, "lora-run"), "--lora-r", "8", "--target-modules", "q_proj,v_proj,down_proj"], { timeoutMs: 120_000 });
    expectOk(lora);
    const t = loraCount(8, ["q_proj", "v_proj", "down_proj"]);
    expect(lora.stderr).toContain(`${peftLine(t, BASE_TOTAL + t)}\n`);
    expect(json(ortrl(["inspect", join(tmp, "lora-run"), "--json"]))).toMatchObject({ trainable_params: t, all_params: BASE_TOTAL + t, lora_b_nonzero: 15 });
    const cpt = ortrl(["train", "cpt", ...common, "--output-dir", join(tmp, "cpt-run")], { timeoutMs: 120_000 });
    expectOk(cpt);
    expect(cpt.stderr).toContain(`${peftLine(BASE_TOTAL, BASE_TOTAL)}\n`);
  });
});

describe("ortrl inspect --against", () => {
  it("after a full fine-tune every tensor changed; a copy of the base has none changed", () => {
    const out = join(tmp, "full");
    const r = ortrl(["train", "sft", "--model", MODEL, "--data", textData, "--max-seq-length", "64", "--per-device-train-batch-size", "2", "--output-dir", out, "--max-steps", "2", "--learning-rate", "1e-3", "--save-steps", "0"], { timeoutMs: 120_000 });
    expectOk(r);
    expect(r.stderr).toContain(`${peftLine(BASE_TOTAL, BASE_TOTAL)}\n`);
    const text = ortrl(["inspect", out, "--against", MODEL]);
    expectOk(text);
    expect(text.stdout).toContain(`against ${MODEL}: 47 of 47 tensors changed\n`);
    expect(text.stdout).not.toContain("unchanged:");
    const j = json(ortrl(["inspect", out, "--against", MODEL, "--json"]));
    expect(j).toMatchObject({ changed_tensors: 47, total_tensors: 47, unchanged: [] });
    for (const t of j.tensors) {
      expect(t.max_abs_diff).toBeGreaterThan(0);
      // AdamW moves each element by about the learning rate per step: 2 steps of 1e-3.
      expect(t.max_abs_diff).toBeLessThan(3e-3);
      expect(t.relative_norm).toBeGreaterThan(0);
    }

    const copy = join(tmp, "copy");
    cpSync(MODEL, copy, { recursive: true });
    const same = json(ortrl(["inspect", copy, "--against", MODEL, "--json"]));
    expect(same).toMatchObject({ changed_tensors: 0, total_tensors: 47 });
    expect(same.unchanged).toHaveLength(47);
    expect(same.tensors.every((t: { max_abs_diff: number; relative_norm: number }) => t.max_abs_diff === 0 && t.relative_norm === 0)).toBe(true);
  });

  it("refuses a base with other shapes, naming the tensor", () => {
    const other = join(tmp, "other-shapes");
    cpSync(MODEL, other, { recursive: true });
    const st = F.SafetensorsFile.open(join(MODEL, "model.safetensors"));
    const tensors = Object.fromEntries(
      st.tensorNames.map((n) => {
        const data = st.readFloat32(n);
        const shape = [...st.info(n).shape];
        return [n, n === "model.norm.weight" ? { dtype: "F32" as const, shape: [32], data: data.slice(0, 32) } : { dtype: "F32" as const, shape, data }];
      }),
    );
    st.close();
    F.writeSafetensors(join(other, "model.safetensors"), tensors);
    expectFailure(ortrl(["inspect", MODEL, "--against", other]), new RegExp(`tensor 'model.norm.weight' has shape \\[64\\], but in ${other} \\[32\\]`));
    // An adapter's tensors must fit the base too.
    const small = join(tmp, "small-model");
    cpSync(MODEL, small, { recursive: true });
    const st2 = F.SafetensorsFile.open(join(MODEL, "model.safetensors"));
    const t2 = Object.fromEntries(st2.tensorNames.map((n) => [n, { dtype: "F32" as const, shape: n.endsWith("q_proj.weight") ? [32, 64] : [...st2.info(n).shape], data: n.endsWith("q_proj.weight") ? st2.readFloat32(n).slice(0, 32 * 64) : st2.readFloat32(n) }]));
    st2.close();
    F.writeSafetensors(join(small, "model.safetensors"), t2);
    expectFailure(ortrl(["inspect", adapter, "--against", small]), /q_proj\.lora_B\.weight' has shape \[64, 4\], which does not fit 'model\.layers\.0\.self_attn\.q_proj\.weight' \[32, 64\]/);
  });

  it("bad input: one line naming the path", () => {
    expectFailure(ortrl(["inspect", join(tmp, "nope")]), new RegExp(`directory ${join(tmp, "nope")} does not exist`));
    expectFailure(ortrl(["inspect", join(MODEL, "config.json")]), /config\.json is a file, not a model or adapter directory/);
    const empty = mkdtempSync(join(tmp, "empty-"));
    expectFailure(ortrl(["inspect", empty]), new RegExp(`${empty} is not a model or adapter directory: it has neither config.json .* nor adapter_config.json`));
    expectFailure(ortrl(["inspect", MODEL, "--against", join(tmp, "nope")]), new RegExp(`--against ${join(tmp, "nope")} does not exist`));
    expectFailure(ortrl(["inspect", MODEL, "--against", adapter]), /--against .* is a PEFT adapter directory/);
    const bad = ortrl(["inspect", MODEL, "--frobnicate"]);
    expectFailure(bad, /unknown option '--frobnicate'/);
    expect(bad.status).toBe(2);
    expect(ortrl(["inspect"]).status).toBe(2);
  });
});
