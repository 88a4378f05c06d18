/**
 * A broken model or LoRA target list stops the CLI with one `ortrl: error:` line naming the file and tensor (or the
 * module names), instead of `loss: null`, an empty generation, or an adapter_config.json listing modules that were
 * never trained. The bad model is a copy of stories260K with one NaN written into a tensor.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from "@ortrl/core";
import { expectFailure, ortrl, SHARED } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-checks-"));
const nanModel = join(tmp, "nan-model");
const data = join(tmp, "data.jsonl");
const TENSOR = "model.layers.2.mlp.up_proj.weight";

beforeAll(() => {
  cpSync(MODEL, nanModel, { recursive: true });
  const src = readSafetensors(join(MODEL, "model.safetensors"));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const n of src.tensorNames) tensors[n] = { dtype: "F32", shape: src.info(n).shape, data: src.readFloat32(n) };
  src.close();
  (tensors[TENSOR]!.data as Float32Array)[42] = NaN;
  rmSync(join(nanModel, "model.safetensors"));
  writeSafetensors(join(nanModel, "model.safetensors"), tensors, { format: "pt" });
  writeFileSync(data, JSON.stringify({ text: "Once upon a time, there was a little girl." }) + "\n");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("model and adapter checks at the command line", () => {
  it("ortrl eval and ortrl generate refuse a model with a NaN weight, naming the file and tensor", () => {
    const want = new RegExp(`${nanModel}/model\\.safetensors: tensor '${TENSOR.replace(/\./g, "\\.")}' has 1 NaN/Inf value \\(first at index 42: NaN\\)`);
    const ev = ortrl(["eval", "--model", nanModel, "--data", data]);
    expectFailure(ev, want);
    expect(ev.stdout).toBe("");
    const gen = ortrl(["generate", "--model", nanModel, "--prompt", "Once", "--max-new-tokens", "4"]);
    expectFailure(gen, want);
    expect(gen.stdout).toBe("");
  });

  it("ortrl train sft refuses --target-modules entries that match no linear layer", () => {
    const out = join(tmp, "sft-out");
    const r = ortrl(["train", "sft", "--model", MODEL, "--data", data, "--output-dir", out, "--target-modules", "q_proj,foo_proj", "--max-steps", "1"]);
    expectFailure(r, /LoRA target_modules "foo_proj" match no linear layer of the model \(its linear layers: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/);
    expect(() => readFileSync(join(out, "adapter_config.json"))).toThrow();
  });
});
