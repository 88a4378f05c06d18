/**
 * loadPretrained / loadWeights refuse a model directory whose weights are not exactly the model its config
 * describes (missing or unused tensors, a layer more or less than num_hidden_layers, NaN/Inf values, a tied
 * lm_head that is not the embedding) or whose tokenizer has ids beyond the embedding. Each bad directory is a copy
 * of stories260K with one thing changed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SafetensorsTensor } from "../io/safetensors.js";
import { editedCopy, errorOfAsync } from "../testing/edits.js";
import { Runtime } from "../runtime/runtime.js";
import { STORIES_DIR } from "../testing/fixtures.js";
import { loadPretrained, loadWeights } from "./pretrained.js";
import { readLlamaConfig } from "./llama-config.js";
import { assertFinite, checkTensorNames, findNonFinite, formatNames } from "./weight-checks.js";

const runtime = new Runtime({ intraOpNumThreads: 1 });
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-pretrained-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const errorOf = errorOfAsync;

/** A copy of stories260K in a fresh directory, with config.json changed by `config` and the tensors by `tensors`. */
function variant(name: string, edit: { config?: (c: Record<string, any>) => void; tensors?: (t: Record<string, SafetensorsTensor>) => void }): string {
  return editedCopy(STORIES_DIR, path.join(tmp, name), {
    json: edit.config && { file: "config.json", edit: edit.config },
    tensors: edit.tensors && { file: "model.safetensors", edit: edit.tensors },
  });
}

describe("loadPretrained checks the weights against config.json", () => {
  it("loads the real stories260K (tied embeddings, no lm_head tensor)", async () => {
    const m = await loadPretrained(STORIES_DIR, runtime);
    expect(m.config.tieWordEmbeddings).toBe(true);
    expect(m.lm.params.names).not.toContain("lm_head.weight");
  });

  it("refuses weights with a layer more than num_hidden_layers, naming the unused tensors", async () => {
    const dir = variant("fewer-layers", { config: (c) => (c.num_hidden_layers = 4) });
    expect(await errorOf(() => loadPretrained(dir, runtime))).toBe(
      `${dir}: model weights have 9 tensors the model does not use: 'model.layers.4.input_layernorm.weight', ` +
        "'model.layers.4.mlp.down_proj.weight', 'model.layers.4.mlp.gate_proj.weight', 'model.layers.4.mlp.up_proj.weight', " +
        "'model.layers.4.post_attention_layernorm.weight' (and 4 more) (config.json has num_hidden_layers 4; the weights have layers up to 4)",
    );
  });

  it("refuses weights lacking a layer, naming the missing tensors", async () => {
    const dir = variant("more-layers", { config: (c) => (c.num_hidden_layers = 6) });
    expect(await errorOf(() => loadWeights(dir, readLlamaConfig(dir)))).toMatch(
      new RegExp(`^${dir}: model weights lack 9 tensors the config implies: 'model\\.layers\\.5\\.input_layernorm\\.weight', .* \\(and 4 more\\) \\(config\\.json has num_hidden_layers 6; the weights have layers up to 4\\)$`),
    );
  });

  it("refuses an unused tensor but ignores rotary_emb.inv_freq buffers, as transformers does", async () => {
    const inv = { dtype: "F32" as const, shape: [4], data: Float32Array.of(1, 0.1, 0.01, 0.001) };
    const ok = variant("inv-freq", { tensors: (t) => (t["model.layers.0.self_attn.rotary_emb.inv_freq"] = inv) });
    await loadPretrained(ok, runtime);
    const bad = variant("extra-tensor", { tensors: (t) => (t["model.layers.0.self_attn.q_norm.weight"] = { dtype: "F32", shape: [8], data: new Float32Array(8) }) });
    expect(await errorOf(() => loadPretrained(bad, runtime))).toBe(`${bad}: model weights have 1 tensor the model does not use: 'model.layers.0.self_attn.q_norm.weight'`);
  });

  it("refuses a NaN or Inf value, naming the file, tensor, count and first index", async () => {
    const nan = variant("nan", { tensors: (t) => (t["model.layers.0.mlp.up_proj.weight"]!.data as Float32Array)[7] = NaN });
    expect(await errorOf(() => loadPretrained(nan, runtime))).toBe(
      `${path.join(nan, "model.safetensors")}: tensor 'model.layers.0.mlp.up_proj.weight' has 1 NaN/Inf value (first at index 7: NaN)`,
    );
    const inf = variant("inf", {
      tensors: (t) => {
        const d = t["model.norm.weight"]!.data as Float32Array;
        d[3] = Infinity;
        d[10] = -Infinity;
      },
    });
    expect(await errorOf(() => loadPretrained(inf, runtime))).toMatch(/model\.safetensors: tensor 'model\.norm\.weight' has 2 NaN\/Inf values \(first at index 3: Infinity\)$/);
  });

  it("ignores a tied lm_head.weight equal to the embedding, refuses one that differs", async () => {
    const same = variant("tied-same", { tensors: (t) => (t["lm_head.weight"] = { ...t["model.embed_tokens.weight"]!, data: Float32Array.from(t["model.embed_tokens.weight"]!.data as Float32Array) }) });
    const m = await loadPretrained(same, runtime);
    expect(m.lm.params.names).not.toContain("lm_head.weight");
    const diff = variant("tied-differs", {
      tensors: (t) => {
        const head = Float32Array.from(t["model.embed_tokens.weight"]!.data as Float32Array);
        head[100] += 1;
        t["lm_head.weight"] = { dtype: "F32", shape: t["model.embed_tokens.weight"]!.shape, data: head };
      },
    });
    expect(await errorOf(() => loadPretrained(diff, runtime))).toMatch(
      /model\.safetensors: tie_word_embeddings is true but 'lm_head\.weight' differs from 'model\.embed_tokens\.weight' \(first at index 100: .*\); set tie_word_embeddings to false/,
    );
  });

  it("refuses a tokenizer with ids beyond the embedding (vocab_size), naming both numbers", async () => {
    const dir = variant("big-tokenizer", {});
    const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    for (let i = 0; i < 3; i++) {
      tj.added_tokens.push({ id: 512 + i, content: `<extra_${i}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tj));
    expect(await errorOf(() => loadPretrained(dir, runtime))).toBe(
      `${dir}: tokenizer.json has 515 tokens (ids up to 514, added tokens included) but the model's embedding has 512 rows ` +
        "(config.json vocab_size): token ids >= 512 would index past it; resize the embedding or use the model's own tokenizer",
    );
    // A tokenizer smaller than the embedding is fine (e.g. an embedding padded to a multiple of 64).
    const wide = variant("wide-embedding", {
      config: (c) => (c.vocab_size = 520),
      tensors: (t) => {
        const e = t["model.embed_tokens.weight"]!;
        const data = new Float32Array(520 * 64);
        data.set(e.data as Float32Array);
        t["model.embed_tokens.weight"] = { dtype: "F32", shape: [520, 64], data };
      },
    });
    expect((await loadPretrained(wide, runtime)).config.vocabSize).toBe(520);
  });
});

describe("weight-checks helpers", () => {
  it("findNonFinite counts NaN and both infinities, and returns null for finite data (signed zeros included)", () => {
    expect(findNonFinite(Float32Array.of(0, -0, 1e38, -3.4e38, 1e-45))).toBeNull();
    expect(findNonFinite(new Float32Array(0))).toBeNull();
    expect(findNonFinite(Float32Array.of(1, -Infinity, NaN, 2, Infinity))).toEqual({ count: 3, first: 1, value: -Infinity });
    expect(() => assertFinite(Float32Array.of(1, NaN), "f.safetensors", "w")).toThrow("f.safetensors: tensor 'w' has 1 NaN/Inf value (first at index 1: NaN)");
  });

  it("formatNames lists five names then a count; checkTensorNames reports missing tensors before unused ones", () => {
    expect(formatNames(["a", "b"])).toBe("'a', 'b'");
    expect(formatNames(["a", "b", "c", "d", "e", "f", "g"])).toBe("'a', 'b', 'c', 'd', 'e' (and 2 more)");
    expect(() => checkTensorNames({ source: "d", expected: ["x", "y"], present: ["x", "z"] })).toThrow("d: model weights lack 1 tensor the config implies: 'y'");
    expect(() => checkTensorNames({ source: "d", expected: ["x"], present: ["x", "z"], ignored: [/^z$/] })).not.toThrow();
  });
});
