/**
 * saveMergedModel on the real stories260K (tied embeddings) with a LoRA adapter on every linear layer whose lora_B is
 * not zero (so the merge changes every adapted weight): the saved float32 model computes the adapted model's logits,
 * float16 / bfloat16 weights are the float32 merged weights rounded to nearest even, the model is not changed, and
 * the output directory is protected (inputs, an earlier model, failures, leftovers of a killed process).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openModelWeights } from "../io/model-weights.js";
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16, readSafetensors } from "../io/safetensors.js";
import { createLoraAdapter, type LoraAdapter } from "../lora/adapter.js";
import { resolveLoraConfig } from "../lora/lora-config.js";
import { mergeLora, mergedWeights } from "../lora/merge.js";
import { padBatch } from "../model/batch.js";
import { CausalLM } from "../model/causal-lm.js";
import { type PretrainedModel, loadPretrained } from "../model/pretrained.js";
import { Runtime } from "../runtime/runtime.js";
import { errorOfAsync } from "../testing/edits.js";
import { STORIES_DIR, compareArrays } from "../testing/fixtures.js";
import { Rng } from "../util/rng.js";
import { OutputDirError } from "./output-dir.js";
import { saveMergedModel } from "./save-merged-model.js";

const runtime = new Runtime({ intraOpNumThreads: 1 });
let tmp: string;
let m: PretrainedModel;
let adapter: LoraAdapter;
let adapted: CausalLM;
let batch: ReturnType<typeof padBatch>;
let adaptedLogits: Float32Array;

/** A LoRA adapter (r 4, alpha 8, all linear layers) with lora_B drawn from U(-0.05, 0.05) instead of PEFT's zeros. */
function trainedLikeAdapter(model: PretrainedModel, seed = 7): LoraAdapter {
  const a = createLoraAdapter(model.config, resolveLoraConfig({ r: 4, loraAlpha: 8, targetModules: "all-linear" }), model.lm.params, 1);
  const rng = new Rng(seed);
  for (const n of a.params.names) {
    if (!n.endsWith("lora_B.weight")) continue;
    const b = a.params.get(n);
    for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-0.05, 0.05);
  }
  return a;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-save-merged-"));
  m = await loadPretrained(STORIES_DIR, runtime);
  adapter = trainedLikeAdapter(m);
  adapted = m.lm.withAdapter(adapter);
  const tok = m.tokenizer!;
  batch = padBatch([tok.encode("Once upon a time, there was a little girl named Lily."), tok.encode("The dog ran to the park.")]);
  adaptedLogits = await adapted.logits(batch);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const out = (name: string) => path.join(tmp, name);
const save = (dir: string, extra: Partial<Parameters<typeof saveMergedModel>[1]> = {}) =>
  saveMergedModel(dir, { lm: adapted, config: m.config, tokenizerFrom: STORIES_DIR, inputs: [{ what: "--model", path: STORIES_DIR }], ...extra });
const logitsOf = async (dir: string) => (await loadPretrained(dir, runtime)).lm.logits(batch);
/** Whether two typed arrays hold the same bytes (fast, unlike a deep toEqual of large arrays). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
/** Every float32 value of a model's parameters, for "unchanged" checks. */
const snapshot = (lm: CausalLM) => lm.params.names.map((n) => Float32Array.from(lm.params.get(n)));

describe("saveMergedModel writes the adapter merged into the base model", () => {
  it("float32: a Hugging Face directory whose logits are the adapted model's; the model itself is unchanged", async () => {
    const before = snapshot(m.lm);
    const saved = await save(out("f32"));
    expect(saved.files).toEqual(["model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "config.json"]);
    expect(fs.readdirSync(out("f32")).sort()).toEqual([...saved.files].sort());
    m.lm.params.names.forEach((n, i) => expect(sameBytes(m.lm.params.get(n), before[i]!), n).toBe(true));
    // The merge changed the weights (B != 0), so equal logits are not the base model's.
    const baseLogits = await m.lm.logits(batch);
    expect(compareArrays(baseLogits, adaptedLogits, 0, 1e-2)).not.toBeNull();
    // The saved tensors are exactly mergeLora's result, so the loaded model computes mergeAndUnload's logits bit for bit.
    const merged = m.lm.params.clone();
    mergeLora(merged, adapter);
    const w = openModelWeights(out("f32"));
    for (const n of merged.names) expect(sameBytes(w.readFloat32(n), merged.get(n)), n).toBe(true);
    w.close();
    const savedLogits = await logitsOf(out("f32"));
    expect(sameBytes(savedLogits, await new CausalLM(m.lm.arch, merged, runtime).logits(batch))).toBe(true);
    // Against the adapter path, x (W + s B A) and x W + s (x A) B round differently in float32: measured max
    // |d| 1.5e-5 (2^-16, a few ulps of logits up to 21, i.e. 7e-7 of the largest); bound 3e-5, while the adapter moves
    // the logits by up to 3.
    expect(compareArrays(savedLogits, adaptedLogits, 0, 3e-5)).toBeNull();
    const st = readSafetensors(path.join(out("f32"), "model.safetensors"));
    expect(st.metadata).toEqual({ format: "pt" });
    st.close();
  });

  it("keeps tied embeddings tied: no lm_head.weight, tie_word_embeddings true, torch_dtype set", async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(out("f32"), "config.json"), "utf8"));
    expect(cfg.tie_word_embeddings).toBe(true);
    expect(cfg.torch_dtype).toBe("float32");
    const w = openModelWeights(out("f32"));
    expect(w.has("lm_head.weight")).toBe(false);
    w.close();
  });

  // Round to nearest even keeps half an ulp: 2^-11 relative for float16's 10 mantissa bits (plus 2^-25 absolute
  // below 2^-14, its subnormals), 2^-8 relative for bfloat16's 7. The stored bits must be exactly float32ToF16 /
  // float32ToBf16 of the float32 merged weights.
  for (const [dtype, st, toBits, fromBits, rel, abs, logitTol] of [
    ["float16", "F16", float32ToF16, f16ToFloat32, 2 ** -11, 2 ** -25, 3e-2],
    ["bfloat16", "BF16", float32ToBf16, bf16ToFloat32, 2 ** -8, 0, 3e-1],
  ] as const) {
    it(`${dtype}: every weight is the float32 merged weight rounded to nearest even (|d| <= ${rel} |w| + ${abs})`, async () => {
      const dir = out(dtype);
      await save(dir, { dtype });
      expect(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")).torch_dtype).toBe(dtype);
      const merged = mergedWeights(adapted);
      const w = openModelWeights(dir);
      for (const n of merged.names) {
        expect(w.info(n).dtype, n).toBe(st);
        const want = merged.get(n);
        const raw = w.readRaw(n);
        expect(sameBytes(raw, toBits(want)), n).toBe(true);
        expect(compareArrays(fromBits(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2)), want, rel, abs), n).toBeNull();
      }
      w.close();
      // Logits move with the rounding through 5 layers: measured max |d| 1.3e-2 (float16) and 1.0e-1 (bfloat16) on
      // logits up to 21 (the rounding is deterministic); the bounds, 3e-2 and 3e-1, still fail for the base model
      // without the adapter (|d| up to 3).
      expect(compareArrays(await logitsOf(dir), adaptedLogits, 0, logitTol)).toBeNull();
    });
  }
});

describe("saveMergedModel protects the output directory", () => {
  it("refuses the base model's directory, or one containing it, and a model without an adapter", async () => {
    expect(await errorOfAsync(() => save(STORIES_DIR))).toBe(
      `--output-dir ${STORIES_DIR} is the input of --model (${STORIES_DIR}); saving the model would write over it: choose another output directory`,
    );
    const err = await save(path.dirname(STORIES_DIR)).catch((e) => e);
    expect(err).toBeInstanceOf(OutputDirError);
    expect(err.message).toMatch(/contains the input of --model/);
    expect(await errorOfAsync(() => saveMergedModel(out("none"), { lm: m.lm, config: m.config }))).toBe("saveMergedModel: the model has no LoRA adapter attached (nothing to merge)");
    expect(fs.existsSync(out("none"))).toBe(false);
  });

  it("refuses a directory holding a model unless overwrite; then replaces the model's files only, stale shards included", async () => {
    const dir = out("existing");
    await save(dir, { maxShardSize: 300_000 });
    const shards = fs.readdirSync(dir).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
    fs.writeFileSync(path.join(dir, "adapter_config.json"), "{}");
    const listing = fs.readdirSync(dir).sort();
    const err = await save(dir).catch((e) => e);
    expect(err).toBeInstanceOf(OutputDirError);
    expect(err.message).toBe(`--output-dir ${dir} already holds a model (adapter_config.json, config.json, generation_config.json, ...); pass --overwrite-output-dir to replace it, or choose another output directory`);
    expect(fs.readdirSync(dir).sort()).toEqual(listing);

    await save(dir, { overwrite: true, dtype: "bfloat16" });
    // The earlier shards, index and adapter file are gone (they would contradict the new model); notes.txt stays.
    expect(fs.readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "notes.txt", "tokenizer.json", "tokenizer_config.json"]);
    expect(compareArrays(await logitsOf(dir), adaptedLogits, 0, 3e-1)).toBeNull();
  });

  it("a failure while writing leaves nothing new, and an earlier model untouched", async () => {
    // A weight beyond float16's range cannot be saved as float16 (it would become Inf).
    const big = trainedLikeAdapter(m);
    big.params.get(big.params.names.find((n) => n.endsWith("lora_B.weight"))!)[0] = 1e6;
    const lm = m.lm.withAdapter(big);
    const fresh = out("overflow");
    const msg = await errorOfAsync(() => saveMergedModel(fresh, { lm, config: m.config, tokenizerFrom: STORIES_DIR, dtype: "float16" }));
    expect(msg).toMatch(/: tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' has the value .* beyond float16's range \(±65504\); save it as bfloat16 or float32$/);
    expect(fs.existsSync(fresh)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes(".tmp-"))).toEqual([]);

    const dir = out("kept");
    await save(dir);
    const bytes = fs.readFileSync(path.join(dir, "model.safetensors"));
    await expect(saveMergedModel(dir, { lm, config: m.config, tokenizerFrom: STORIES_DIR, dtype: "float16", overwrite: true })).rejects.toThrow(/beyond float16's range/);
    expect(fs.readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(bytes)).toBe(true);
  });

  it("removes what a killed earlier call left (its temporary directories), not a live process's", async () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const dir = out("leftovers");
    fs.mkdirSync(`${dir}.tmp-${dead}`);
    fs.writeFileSync(path.join(`${dir}.tmp-${dead}`, "model.safetensors"), "half");
    fs.mkdirSync(`${dir}.tmp-${process.ppid}`); // a live process: left alone
    await save(dir);
    expect(fs.existsSync(`${dir}.tmp-${dead}`)).toBe(false);
    expect(fs.existsSync(`${dir}.tmp-${process.ppid}`)).toBe(true);
    fs.mkdirSync(path.join(dir, `merged-model.tmp-${dead}`));
    await save(dir, { overwrite: true });
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});
