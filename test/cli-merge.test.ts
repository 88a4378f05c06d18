/**
 * `ortrl merge` and `ortrl train sft --save-merged` through the built binary (run `npm run build` first), on the real
 * stories260K (tied embeddings) with a LoRA adapter on every linear layer whose lora_B is not zero, so the merge
 * changes every adapted weight and the base model's logits differ from the adapted ones by up to 3:
 *   - float32: the merged directory's logits are base + adapter's (3e-5 absolute: x (W + s B A) and x W + s (x A) B
 *     round differently in float32, measured 1.5e-5 on logits up to 21), and `ortrl eval` gives the adapter's loss
 *     (1e-5);
 *   - float16 / bfloat16: config and tensor dtypes, logits within 3e-2 / 3e-1 (measured 1.3e-2 / 1.0e-1: each weight
 *     rounded to half an ulp, 2^-11 / 2^-8 relative, through 5 layers);
 *   - sharding, tied embeddings, copied tokenizer files;
 *   - bad input: one error line naming the file or flag, exit 2 for usage errors, nothing written at the target.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { compareArrays } from "@ortrl/core/testing";
import { type CliResult, REPO_ROOT, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";
import { saveNonZeroAdapter } from "./helpers/lora-adapter.js";
import { cptRun } from "./helpers/train.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const ALPACA = join(SHARED, "data/alpaca-en-demo/alpaca_en_demo.json");
const runtime = new F.Runtime({ intraOpNumThreads: 1 });

let tmp = "";
let adapterDir = "";
let evalJsonl = "";
let batch: F.TokenBatch;
/** Logits of the base model with the saved adapter applied (the adapter path, not merged). */
let adaptedLogits: Float32Array;
let baseLogits: Float32Array;

const merge = (args: string[]): CliResult => ortrl(["merge", "--model", MODEL, "--adapter", adapterDir, ...args], { timeoutMs: 60_000 });
const logitsOf = async (dir: string) => (await F.loadPretrained(dir, runtime)).lm.logits(batch);
const json = (r: CliResult) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);
/** The safetensors header of a file (without __metadata__) and its metadata. */
function header(path: string): { tensors: Record<string, { dtype: string; shape: number[] }>; metadata: Record<string, string> } {
  const f = F.readSafetensors(path);
  try {
    return { tensors: Object.fromEntries(f.tensorNames.map((n) => [n, { dtype: f.info(n).dtype, shape: [...f.info(n).shape] }])), metadata: { ...f.metadata } };
  } finally {
    f.close();
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-merge-"));
  const m = await F.loadPretrained(MODEL, runtime);
  adapterDir = join(tmp, "adapter");
  saveNonZeroAdapter(adapterDir, m, MODEL, { targetModules: "all-linear", seed: 7, value: (rng) => rng.uniform(-0.05, 0.05) });
  const tok = m.tokenizer!;
  batch = F.padBatch([tok.encode("Once upon a time, there was a little girl named Lily."), tok.encode("The dog ran to the park.")]);
  baseLogits = await m.lm.logits(batch);
  adaptedLogits = await (await F.attachAdapterFromDir(m.lm, adapterDir)).lm.logits(batch);
  const records = JSON.parse(readFileSync(ALPACA, "utf8")) as Record<string, string>[];
  evalJsonl = join(tmp, "eval.jsonl");
  writeFileSync(evalJsonl, records.slice(-12).map((r) => JSON.stringify({ text: r.output })).join("\n") + "\n");
});

describe("ortrl merge", () => {
  it("float32: a Hugging Face model directory computing base + adapter (logits, and ortrl eval's loss)", async () => {
    const out = join(tmp, "merged");
    const r = merge(["--output-dir", out]);
    expectOk(r);
    expect(json(r)).toEqual({
      output_dir: out,
      dtype: "float32",
      files: ["model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "config.json"],
      total_size: 1_040_128,
    });
    expect(readdirSync(out).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    for (const f of ["generation_config.json", "tokenizer.json", "tokenizer_config.json"]) expect(readFileSync(join(out, f)).equals(readFileSync(join(MODEL, f))), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    const base = JSON.parse(readFileSync(join(MODEL, "config.json"), "utf8"));
    // Every field kept (tie_word_embeddings included), plus the defaults transformers writes for a LlamaConfig.
    expect(cfg).toEqual({ ...base, head_dim: 8, rope_scaling: null, torch_dtype: "float32" });
    const h = header(join(out, "model.safetensors"));
    expect(h.metadata).toEqual({ format: "pt" });
    expect("lm_head.weight" in h.tensors).toBe(false); // tied embeddings stay tied
    expect(Object.values(h.tensors).every((t) => t.dtype === "F32")).toBe(true);

    expect(compareArrays(baseLogits, adaptedLogits, 0, 1)).not.toBeNull(); // the adapter matters
    expect(compareArrays(await logitsOf(out), adaptedLogits, 0, 3e-5)).toBeNull();

    const merged = ortrl(["eval", "--model", out, "--data", evalJsonl]);
    const adapted = ortrl(["eval", "--model", MODEL, "--adapter", adapterDir, "--data", evalJsonl]);
    expectOk(merged);
    expectOk(adapted);
    const [a, b] = [JSON.parse(merged.stdout), JSON.parse(adapted.stdout)];
    expect(a.tokens).toBe(b.tokens);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
    const plain = JSON.parse(ortrl(["eval", "--model", MODEL, "--data", evalJsonl]).stdout);
    expect(Math.abs(a.loss - plain.loss)).toBeGreaterThan(1e-2);
  });

  for (const [dtype, st, tol] of [
    ["float16", "F16", 3e-2],
    ["bfloat16", "BF16", 3e-1],
  ] as const) {
    it(`--dtype ${dtype}: ${st} tensors, torch_dtype ${dtype}, logits within ${tol}`, async () => {
      const out = join(tmp, dtype);
      const r = merge(["--output-dir", out, "--dtype", dtype]);
      expectOk(r);
      expect(json(r).total_size).toBe(1_040_128 / 2);
      expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).torch_dtype).toBe(dtype);
      expect(Object.values(header(join(out, "model.safetensors")).tensors).every((t) => t.dtype === st)).toBe(true);
      expect(compareArrays(await logitsOf(out), adaptedLogits, 0, tol)).toBeNull();
    });
  }

  it("--max-shard-size: shards named as transformers names them and an index, loading to the same model", async () => {
    const out = join(tmp, "sharded");
    const r = merge(["--output-dir", out, "--max-shard-size", "200KB"]);
    expectOk(r);
    const shards = readdirSync(out).filter((f) => f.endsWith(".safetensors")).sort();
    expect(shards).toEqual(["model-00001-of-00006.safetensors", "model-00002-of-00006.safetensors", "model-00003-of-00006.safetensors", "model-00004-of-00006.safetensors", "model-00005-of-00006.safetensors", "model-00006-of-00006.safetensors"]);
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata).toEqual({ total_size: 1_040_128 });
    const inShards = shards.flatMap((s) => Object.keys(header(join(out, s)).tensors).map((n) => [n, s] as const));
    expect(Object.fromEntries(inShards)).toEqual(index.weight_map);
    for (const s of shards) {
      const bytes = Object.values(header(join(out, s)).tensors).reduce((n, t) => n + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
      expect(bytes, s).toBeLessThanOrEqual(200_000);
    }
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(await logitsOf(out)).equals(bytes(await logitsOf(join(tmp, "merged"))))).toBe(true); // the same float32 weights
  });

  it("refuses an output directory holding a model unless --overwrite-output-dir, which replaces the model and keeps other files", async () => {
    const out = join(tmp, "replace");
    expectOk(merge(["--output-dir", out, "--max-shard-size", "300KB"]));
    writeFileSync(join(out, "notes.txt"), "mine");
    const before = readdirSync(out).sort();
    const refused = merge(["--output-dir", out]);
    expectFailure(refused, new RegExp(`--output-dir ${out} already holds a model \\(config\\.json, generation_config\\.json, model-00001-of-00004\\.safetensors, \\.\\.\\.\\); pass --overwrite-output-dir to replace it`));
    expect(refused.status).toBe(2);
    expect(readdirSync(out).sort()).toEqual(before);
    expectOk(merge(["--output-dir", out, "--overwrite-output-dir"]));
    expect(readdirSync(out).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "notes.txt", "tokenizer.json", "tokenizer_config.json"]);
    expect(compareArrays(await logitsOf(out), adaptedLogits, 0, 3e-5)).toBeNull();
  });

  it("a full disk while writing the third shard leaves no new model, and an earlier model untouched (exit 1, naming the file)", async () => {
    const diskFull = { NODE_OPTIONS: `--import ${join(REPO_ROOT, "test/helpers/fail-writes.mjs")}`, ORTRL_FAIL_WRITES: "model-00003-of-" };
    const parent = mkdtempSync(join(tmp, "full-"));
    const out = join(parent, "out");
    const r = ortrl(["merge", "--model", MODEL, "--adapter", adapterDir, "--output-dir", out, "--max-shard-size", "200KB"], { env: diskFull });
    expectFailure(r, new RegExp(`^ortrl: error: cannot write ${out}/model-00003-of-00006\\.safetensors: no space left on device \\(ENOSPC\\)$`));
    expect(r.status).toBe(1);
    expect(readdirSync(parent)).toEqual([]); // neither the model nor its temporary directory

    // Over an earlier model (--overwrite-output-dir): the new one fails before any file is replaced.
    const existing = join(parent, "existing");
    expectOk(merge(["--output-dir", existing]));
    writeFileSync(join(existing, "notes.txt"), "mine");
    const snapshot = () => readdirSync(existing).sort().map((f) => `${f} ${createHash("sha1").update(readFileSync(join(existing, f))).digest("hex")}`);
    const before = snapshot();
    const failed = ortrl(["merge", "--model", MODEL, "--adapter", adapterDir, "--output-dir", existing, "--dtype", "bfloat16", "--max-shard-size", "100KB", "--overwrite-output-dir"], { env: diskFull });
    expectFailure(failed, new RegExp(`^ortrl: error: cannot write ${existing}/model-00003-of-\\d+\\.safetensors: no space left on device \\(ENOSPC\\)$`));
    expect(failed.status).toBe(1);
    expect(snapshot()).toEqual(before);
    expect(compareArrays(await logitsOf(existing), adaptedLogits, 0, 3e-5)).toBeNull();
  });

  describe("bad input: one error line, nothing written at the target", () => {
    const target = () => join(mkdtempSync(join(tmp, "bad-")), "out");

    it("an adapter made for another model (exit 1, naming the file, tensor and shapes)", () => {
      const out = target();
      const tiny = join(SHARED, "fixtures/tiny-llama/adapter");
      const r = ortrl(["merge", "--model", MODEL, "--adapter", tiny, "--output-dir", out]);
      expectFailure(r, /adapter_model\.safetensors: tensor 'base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_A\.weight' has shape \[4, 96\], but the model's 'model\.layers\.0\.mlp\.down_proj\.weight' is \[64, 172\], so lora_A must be \[r, 172\]: the adapter was made for another model/);
      expect(r.status).toBe(1);
      expect(existsSync(out)).toBe(false);
    });

    it("--output-dir that is --model, or contains --adapter (exit 2); the directory is unchanged", () => {
      const model = join(tmp, "model-copy");
      cpSync(MODEL, model, { recursive: true });
      const contents = () => readdirSync(model).map((f) => `${f} ${createHash("sha1").update(readFileSync(join(model, f))).digest("hex")}`);
      const before = contents();
      const r = ortrl(["merge", "--model", model, "--adapter", adapterDir, "--output-dir", model, "--overwrite-output-dir"]);
      expectFailure(r, new RegExp(`--output-dir ${model} is the input of --model \\(${model}\\); saving the model would write over it: choose another output directory$`));
      expect(r.status).toBe(2);
      expect(contents()).toEqual(before);
      const parent = merge(["--output-dir", tmp]);
      expectFailure(parent, /--output-dir .* contains the input of --adapter/);
      expect(parent.status).toBe(2);
    });

    it("an unknown --dtype or a bad --max-shard-size (exit 2, naming the flag)", () => {
      const out = target();
      const d = merge(["--output-dir", out, "--dtype", "fp16"]);
      expectFailure(d, /^ortrl: error: --dtype must be one of float32, float16, bfloat16, got 'fp16'$/);
      expect(d.status).toBe(2);
      for (const size of ["5G", "0", "-1MB", "lots"]) {
        const s = merge(["--output-dir", out, "--max-shard-size", size]);
        expectFailure(s, new RegExp(`^ortrl: error: --max-shard-size must be a size in bytes: .* got "${size}"$`));
        expect(s.status, size).toBe(2);
      }
      expect(existsSync(out)).toBe(false);
    });

    it("a missing model or adapter directory (exit 1, naming it), and missing flags (exit 2)", () => {
      const out = target();
      const noModel = ortrl(["merge", "--model", join(tmp, "nope"), "--adapter", adapterDir, "--output-dir", out]);
      expectFailure(noModel, new RegExp(`model directory ${join(tmp, "nope")} does not exist`));
      expect(noModel.status).toBe(1);
      const noAdapter = ortrl(["merge", "--model", MODEL, "--adapter", join(tmp, "nope"), "--output-dir", out]);
      expectFailure(noAdapter, new RegExp(`adapter directory ${join(tmp, "nope")} does not exist`));
      expect(noAdapter.status).toBe(1);
      const noOut = ortrl(["merge", "--model", MODEL, "--adapter", adapterDir]);
      expectFailure(noOut, /required option '--output-dir <dir>' not specified/);
      expect(noOut.status).toBe(2);
      expect(existsSync(out)).toBe(false);
    });
  });
});

describe("ortrl train sft --save-merged", () => {
  let trainJsonl = "";
  const small = () => ["--model", MODEL, "--data", trainJsonl, "--max-seq-length", "128", "--per-device-train-batch-size", "4", "--learning-rate", "1e-2", "--max-steps", "3", "--save-steps", "0", "--threads", "1"];
  const train = (args: string[]): CliResult => ortrl(["train", "sft", ...args], { timeoutMs: 120_000 });

  beforeAll(() => {
    const records = JSON.parse(readFileSync(ALPACA, "utf8")) as Record<string, string>[];
    trainJsonl = join(tmp, "train.jsonl");
    writeFileSync(trainJsonl, records.slice(0, 24).map((r) => JSON.stringify(r)).join("\n") + "\n");
  });

  it("with LoRA writes the adapter and OUT/merged, a model computing base + that adapter", async () => {
    const out = join(tmp, "sft-lora");
    const r = train([...small(), "--output-dir", out, "--lora-r", "4", "--lora-alpha", "8", "--target-modules", "all-linear", "--save-merged"]);
    expectOk(r);
    for (const f of ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"]) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readdirSync(join(out, "merged")).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    expect(JSON.parse(readFileSync(join(out, "merged", "config.json"), "utf8"))).toMatchObject({ torch_dtype: "float32", tie_word_embeddings: true });
    const m = await F.loadPretrained(MODEL, runtime);
    const trained = await (await F.attachAdapterFromDir(m.lm, out)).lm.logits(batch);
    expect(compareArrays(trained, baseLogits, 0, 1e-3)).not.toBeNull(); // three steps at 1e-2 moved the adapter
    expect(compareArrays(await logitsOf(join(out, "merged")), trained, 0, 3e-5)).toBeNull();
  });

  it("without LoRA is refused naming the flag or the config key (exit 2), before anything is written", () => {
    const out = join(tmp, "sft-full");
    const r = train([...small(), "--output-dir", out, "--save-merged"]);
    expectFailure(r, /^ortrl: error: command line: --save-merged needs a LoRA adapter: this run trains all parameters/);
    expect(r.status).toBe(2);
    const cfgFile = join(tmp, "full.yaml");
    writeFileSync(cfgFile, "save_merged: true\nlora_r: 0\n");
    const fromFile = train([...small(), "--output-dir", out, "--config", cfgFile]);
    expectFailure(fromFile, new RegExp(`^ortrl: error: ${cfgFile}: key 'save_merged' needs a LoRA adapter`));
    expect(fromFile.status).toBe(2);
    const cpt = ortrl(["train", "cpt", "--model", MODEL, "--data", trainJsonl, "--output-dir", out, "--save-merged"]);
    expectFailure(cpt, /--save-merged needs a LoRA adapter/);
    expect(existsSync(out)).toBe(false); // refused before the output directory was touched
  });
});

describe("the saveMerged training argument (library)", () => {
  it("writes outputDir/merged after the final adapter; a failure names the complete adapter and `ortrl merge`", async () => {
    const run = await cptRun({ lora: { r: 4, loraAlpha: 8, targetModules: "all-linear" }, saveMerged: true, maxSteps: 2, learningRate: 1e-2 });
    await run.trainer.run();
    const out = run.config.outputDir;
    const trained = await run.policy.lm.logits(batch);
    expect(compareArrays(trained, baseLogits, 0, 1e-3)).not.toBeNull(); // the adapter was trained away from zero
    expect(compareArrays(await logitsOf(join(out, "merged")), trained, 0, 3e-5)).toBeNull();

    // OUT/merged taken by a file: the adapter is written, the merged model cannot be.
    const blocked = await cptRun({ lora: { r: 4, loraAlpha: 8, targetModules: "all-linear" }, saveMerged: true, maxSteps: 1 });
    writeFileSync(join(blocked.config.outputDir, "merged"), "not a directory");
    const err = await blocked.trainer.run().catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `--output-dir ${join(blocked.config.outputDir, "merged")} is a file, expected a directory; the final adapter of step 1 is complete in ${blocked.config.outputDir}: ` +
        `\`ortrl merge --model BASE --adapter ${blocked.config.outputDir} --output-dir ${join(blocked.config.outputDir, "merged")}\` writes the merged model`,
    );
    expect(existsSync(join(blocked.config.outputDir, "adapter_model.safetensors"))).toBe(true);
  });

  it("is refused without LoRA when the container is created", async () => {
    await expect(cptRun({ saveMerged: true })).rejects.toThrow("training arguments: saveMerged needs a LoRA adapter: this run trains all parameters");
  });
});
