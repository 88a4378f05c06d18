/**
 * Model weights of a Hugging Face model directory: a single model.safetensors, a sharded copy of
 * tiny-llama (which must load identically), and the errors for missing or broken files. The writer:
 * transformers' size strings, huggingface_hub's shard planning, and sharded files that read back
 * bit for bit.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf } from "../testing/edits.js";
import { TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { type ModelTensorToWrite, openModelWeights, parseByteSize, planShards, writeModelWeights } from "./model-weights.js";
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

describe("parseByteSize (transformers' max_shard_size)", () => {
  it("reads integers as bytes, KB/MB/GB/TB as powers of 1000 and KiB/MiB/GiB/TiB as powers of 1024, any case", () => {
    expect(parseByteSize("5GB")).toBe(5_000_000_000);
    expect(parseByteSize("500MB")).toBe(500_000_000);
    expect(parseByteSize("100KB")).toBe(100_000);
    expect(parseByteSize("100kb")).toBe(100_000);
    expect(parseByteSize("2GiB")).toBe(2 * 2 ** 30);
    expect(parseByteSize("1.5 MiB")).toBe(1.5 * 2 ** 20);
    expect(parseByteSize("1000000")).toBe(1_000_000);
    expect(parseByteSize(4096)).toBe(4096);
  });

  it("refuses anything else, naming the value", () => {
    for (const bad of ["5G", "", "GB", "-5GB", "0", "0KB", "1.5", "5 gigabytes", "1e9"]) {
      expect(errorOf(() => parseByteSize(bad)), bad).toBe(
        `must be a size in bytes: an integer, or a number and a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB) such as 5GB or 500MB, got ${JSON.stringify(bad)}`,
      );
    }
    expect(() => parseByteSize(1.5)).toThrow(/got 1\.5$/);
  });
});

describe("planShards (huggingface_hub's split_state_dict_into_shards)", () => {
  const t = (name: string, bytes: number) => ({ name, dtype: "U8" as const, shape: [bytes] });
  it("fills shards in order, closing one before it would pass the limit; a tensor over the limit gets its own shard, placed first", () => {
    expect(planShards([t("a", 40), t("b", 50), t("c", 20), t("d", 100)], 100)).toEqual([["a", "b"], ["c"], ["d"]]);
    // d (150 > 100) is emitted at once, before the shard being filled (as huggingface_hub does).
    expect(planShards([t("a", 30), t("d", 150), t("b", 30)], 100)).toEqual([["d"], ["a", "b"]]);
    expect(planShards([t("a", 30), t("b", 30)], 1000)).toEqual([["a", "b"]]);
    expect(planShards([], 10)).toEqual([]);
  });
});

describe("writeModelWeights", () => {
  const tensors = (): ModelTensorToWrite[] => {
    const w = openModelWeights(TINY);
    try {
      return w.tensorNames.map((name) => {
        const data = w.readFloat32(name);
        return { name, dtype: "F32", shape: w.info(name).shape, data: () => data };
      });
    } finally {
      w.close();
    }
  };

  it("writes one model.safetensors under the limit, and shards plus a sorted index above it, which read back bit for bit", () => {
    const all = tensors();
    const one = fs.mkdtempSync(path.join(tmp, "one-"));
    const single = writeModelWeights(one, all, { metadata: { format: "pt" } });
    expect(single.files).toEqual(["model.safetensors"]);
    expect(fs.readdirSync(one)).toEqual(["model.safetensors"]);
    const total = all.reduce((n, x) => n + (x.data() as Float32Array).byteLength, 0);
    expect(single.totalSize).toBe(total);

    const dir = fs.mkdtempSync(path.join(tmp, "sharded-"));
    const asked: string[] = [];
    const sharded = writeModelWeights(dir, all.map((x) => ({ ...x, data: () => (asked.push(x.name), x.data()) })), { maxShardSize: 20_000, metadata: { format: "pt" } });
    const n = sharded.files.length - 1;
    expect(n).toBeGreaterThan(2);
    expect(sharded.files).toEqual([...Array.from({ length: n }, (_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`), "model.safetensors.index.json"]);
    expect(asked).toEqual(all.map((x) => x.name)); // each tensor asked for once, in order
    const index = JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8"));
    expect(Object.keys(index)).toEqual(["metadata", "weight_map"]);
    expect(index.metadata).toEqual({ total_size: total });
    expect(Object.keys(index.weight_map)).toEqual(all.map((x) => x.name).sort());
    for (const f of sharded.files.slice(0, -1)) {
      const st = readSafetensors(path.join(dir, f));
      expect(st.metadata).toEqual({ format: "pt" });
      const bytes = st.tensorNames.reduce((s, name) => s + st.info(name).byteLength, 0);
      expect(bytes <= 20_000 || st.tensorNames.length === 1, f).toBe(true);
      st.close();
    }
    const w = openModelWeights(dir);
    for (const x of all) expect(Buffer.from(w.readRaw(x.name)).equals(Buffer.from((x.data() as Float32Array).buffer)), x.name).toBe(true);
    w.close();
  });

  it("refuses a bad shard size and duplicate names before writing anything", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "bad-"));
    expect(errorOf(() => writeModelWeights(dir, tensors(), { maxShardSize: 0 }))).toBe("writeModelWeights: maxShardSize must be a positive integer (bytes), got 0");
    const all = tensors();
    expect(errorOf(() => writeModelWeights(dir, [...all, all[0]!]))).toBe(`writeModelWeights: tensor '${all[0]!.name}' is given twice`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
