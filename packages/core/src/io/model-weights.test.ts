/**
 * Model weights of a Hugging Face model directory: a single model.safetensors, a sharded copy of
 * tiny-llama (which must load identically), and the errors for missing or broken files.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf } from "../testing/edits.js";
import { TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { openModelWeights } from "./model-weights.js";
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from "./safetensors.js";

const TINY = path.join(TINY_LLAMA_DIR, "model");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-model-weights-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("openModelWeights", () => {
  it("opens a single model.safetensors", () => {
    const w = openModelWeights(TINY);
    expect(w.tensorNames.length).toBe(20);
    expect(w.info("model.embed_tokens.weight").shape).toEqual([97, 48]);
    expect(w.readFloat32("model.norm.weight").length).toBe(48);
    expect(errorOf(() => w.info("lm_head.weight"))).toMatch(new RegExp(`${TINY}: no tensor 'lm_head.weight'`));
    w.close();
  });

  /** Copies tiny-llama into `dir` as two shards (tensors alternating) plus an index; returns the shard names. */
  function shard(dir: string): Record<string, string> {
    const src = readSafetensors(path.join(TINY, "model.safetensors"));
    const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    const parts: Record<string, SafetensorsTensor>[] = [{}, {}];
    const weightMap: Record<string, string> = {};
    src.tensorNames.forEach((n, i) => {
      parts[i % 2]![n] = { dtype: src.info(n).dtype, shape: src.info(n).shape, data: src.read(n) };
      weightMap[n] = files[i % 2]!;
    });
    files.forEach((f, i) => writeSafetensors(path.join(dir, f), parts[i]!, { format: "pt" }));
    const index = { metadata: { total_size: 179328 }, weight_map: weightMap };
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify(index, null, 2));
    fs.copyFileSync(path.join(TINY, "config.json"), path.join(dir, "config.json"));
    src.close();
    return weightMap;
  }

  it("loads a sharded copy identically, into preallocated views", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "sharded-"));
    shard(dir);
    const a = openModelWeights(TINY);
    const b = openModelWeights(dir);
    expect(b.files.length).toBe(2);
    expect(new Set(b.tensorNames)).toEqual(new Set(a.tensorNames));
    const total = a.tensorNames.reduce((s, n) => s + a.info(n).numel, 0);
    const flatA = new Float32Array(total);
    const flatB = new Float32Array(total);
    let off = 0;
    for (const n of a.tensorNames) {
      const k = a.info(n).numel;
      expect(b.info(n).shape).toEqual(a.info(n).shape);
      a.readFloat32Into(n, flatA.subarray(off, off + k));
      b.readFloat32Into(n, flatB.subarray(off, off + k));
      off += k;
    }
    expect(flatB).toEqual(flatA);
    a.close();
    b.close();
  });

  it("lists tensors a shard holds that weight_map does not map to it", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "unindexed-"));
    const weightMap = shard(dir);
    const whole = openModelWeights(dir);
    expect(whole.unindexedTensorNames).toEqual([]);
    whole.close();
    const { "model.norm.weight": _dropped, ...rest } = weightMap;
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: rest }));
    const w = openModelWeights(dir);
    expect(w.has("model.norm.weight")).toBe(false);
    expect(w.unindexedTensorNames).toEqual(["model.norm.weight"]);
    w.close();
  });

  it("names the directory and files looked for when there are no weights", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "empty-"));
    expect(errorOf(() => openModelWeights(dir))).toBe(`${dir}: no model weights: looked for model.safetensors and model.safetensors.index.json`);
    fs.writeFileSync(path.join(dir, "pytorch_model.bin"), "");
    expect(errorOf(() => openModelWeights(dir))).toMatch(/found pytorch_model.bin: PyTorch pickles are not read/);
    expect(errorOf(() => openModelWeights(path.join(dir, "nope")))).toMatch(/model directory .*nope does not exist/);
  });

  it("names the index, tensor and shard for a broken weight_map", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "broken-"));
    const weightMap = shard(dir);
    const indexPath = path.join(dir, "model.safetensors.index.json");
    const writeIndex = (wm: Record<string, string>) => fs.writeFileSync(indexPath, JSON.stringify({ weight_map: wm }));

    writeIndex({ ...weightMap, "model.norm.weight": "model-00003-of-00003.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toBe(
      `${indexPath}: weight_map maps 'model.norm.weight' to shard 'model-00003-of-00003.safetensors', which does not exist in ${dir}`,
    );
    writeIndex({ ...weightMap, "lm_head.weight": "model-00001-of-00002.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toBe(
      `${indexPath}: weight_map maps 'lm_head.weight' to shard 'model-00001-of-00002.safetensors', which has no such tensor`,
    );
    writeIndex({ ...weightMap, x: "../elsewhere.safetensors" });
    expect(errorOf(() => openModelWeights(dir))).toMatch(/weight_map entry 'x' has bad shard file name/);
    fs.writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    expect(errorOf(() => openModelWeights(dir))).toBe(`${indexPath}: no 'weight_map' object`);
  });
});
