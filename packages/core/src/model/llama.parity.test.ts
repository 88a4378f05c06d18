/**
 * Parity with the PyTorch reference (../shared/fixtures): logits, loss, every gradient and the global
 * gradient norm of the tiny Llama on its padded batch; loss, logits and greedy decoding of the real
 * pretrained stories260K model.
 * Tolerances: logits |d| <= 1e-5 + 1e-4|want|; loss and gradients |d| <= 1e-6 + 1e-3|want|
 * (the 1e-6 floor is float32 resolution for gradient entries near zero).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../runtime/runtime.js";
import { compareArrays, openFixtureTensors, readExpectedJson, STORIES_DIR, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { type PretrainedModel, loadPretrained } from "./pretrained.js";
import { padBatch, batchFeeds } from "./batch.js";
import { buildCausalLmTrainGraph } from "../train/causal-lm-graph.js";
import { generate } from "../generate/generate.js";

const runtime = new Runtime();

describe("tiny-llama parity", () => {
  let m: PretrainedModel;
  const exp = readExpectedJson("tiny-llama");
  const rows: number[][] = exp["batch.input_ids"];
  const masks: number[][] = exp["batch.attention_mask"];
  const labels: number[][] = exp["batch.labels"];
  const lens = masks.map((r) => r.reduce((a, b) => a + b, 0));
  const batch = padBatch(rows.map((r, i) => r.slice(0, lens[i])), { labels: labels.map((r, i) => r.slice(0, lens[i])), length: 12 });
  beforeAll(async () => {
    m = await loadPretrained(`${TINY_LLAMA_DIR}model`, runtime);
  });

  it("builds the fixture's batch (right padding, pad id 0)", () => {
    expect([...batch.inputIds].map(Number)).toEqual(rows.flat());
    expect([...batch.attentionMask].map(Number)).toEqual(masks.flat());
  });

  it("logits match where attention_mask is 1", async () => {
    const logits = await m.lm.logits(batch);
    const want = openFixtureTensors("tiny-llama").readFloat32("logits");
    const V = m.config.vocabSize;
    const real = (i: number) => masks.flat()[Math.floor(i / V)] === 1;
    expect(compareArrays(logits, want, 1e-4, 1e-5, real)).toBeNull();
  });

  it("loss, every gradient and the global gradient norm match", async () => {
    const names = m.lm.params.names;
    const tg = buildCausalLmTrainGraph(m.config, names);
    const exe = await runtime.compile(tg.lg.graph, tg.outputs);
    const out = await exe.run({
      ...m.lm.params.feeds(),
      ...batchFeeds(batch),
      num_items_in_batch: { data: Float32Array.of(9), dims: [] },
    });
    const count = (out.count!.data as Float32Array)[0]!;
    expect(count).toBe(13);
    // The graph divides by num_items_in_batch (fed 9): rescale to the mean loss over the 13 tokens.
    const loss = (out.loss_sum!.data as Float32Array)[0]! / count;
    expect(Math.abs(loss - exp["lm.loss"])).toBeLessThan(1e-3 * exp["lm.loss"]);
    const want = openFixtureTensors("tiny-llama");
    let sq = 0;
    for (const n of names) {
      const g = (out[`grad.${n}`]!.data as Float32Array).map((x) => (x * 9) / count);
      for (const x of g) sq += x * x;
      const diff = compareArrays(g, want.readFloat32(`grad.${n}`), 1e-3, 1e-6);
      expect(diff, `grad.${n}`).toBeNull();
    }
    expect(Math.abs(Math.sqrt(sq) - exp["lm.grad_global_norm"])).toBeLessThan(1e-3 * exp["lm.grad_global_norm"]);
  });

  it("greedy decoding matches the reference", async () => {
    const out = await generate(m.lm, [exp["greedy.prompt_ids"]], { maxNewTokens: 10, temperature: 0 });
    expect(out.completions[0]).toEqual(exp["greedy.ids"]);
  });
});

describe("stories260K (real pretrained model)", () => {
  let m: PretrainedModel;
  const exp = readExpectedJson("stories260K");
  beforeAll(async () => {
    m = await loadPretrained(STORIES_DIR, runtime);
  });

  it("tokenizes the sentence as the reference", () => {
    expect(m.tokenizer!.encode(exp.text)).toEqual(exp.input_ids);
  });

  it("sentence loss and logits match", async () => {
    const ids: number[] = exp.input_ids;
    const batch = padBatch([ids], { labels: [ids] });
    const { lossSum, count } = await m.lm.lossSum(batch);
    expect(count).toBe(ids.length - 1);
    expect(Math.abs(lossSum / count - exp.loss)).toBeLessThan(1e-4 * exp.loss);
    const logits = await m.lm.logits(batch);
    const V = m.config.vocabSize;
    const last = logits.subarray((ids.length - 1) * V, (ids.length - 1) * V + 8);
    expect(compareArrays(last, exp.last_position_logits_first8, 1e-4, 1e-5)).toBeNull();
    const want = openFixtureTensors("stories260K", "logits.safetensors");
    expect(compareArrays(logits, want.readFloat32(want.tensorNames[0]!), 1e-4, 1e-5)).toBeNull();
  });

  it("greedy decoding of 100 tokens from BOS reproduces the reference text", async () => {
    const out = await generate(m.lm, [[1]], { maxNewTokens: 100, temperature: 0 });
    expect(out.completions[0]).toEqual(exp.greedy_from_bos_ids);
    expect(m.tokenizer!.decode(out.completions[0]!)).toBe(exp.greedy_from_bos_text);
  });

  it("batched left-padded generation equals row-by-row generation", async () => {
    const prompts = [[1, 403, 407], [1], [1, 403, 407, 261, 378]];
    const batched = await generate(m.lm, prompts, { maxNewTokens: 16, temperature: 0 });
    for (let i = 0; i < prompts.length; i++) {
      const single = await generate(m.lm, [prompts[i]!], { maxNewTokens: 16, temperature: 0 });
      expect(batched.completions[i]).toEqual(single.completions[0]);
    }
  });

  it("seeded sampling is reproducible and stops at EOS", async () => {
    const opts = { maxNewTokens: 40, temperature: 0.9, topP: 0.95, topK: 40, seed: 11, eosTokenId: 2 };
    const a = await generate(m.lm, [[1], [1, 403]], opts);
    const b = await generate(m.lm, [[1], [1, 403]], opts);
    expect(a).toEqual(b);
    const c = await generate(m.lm, [[1], [1, 403]], { ...opts, seed: 12 });
    expect(c).not.toEqual(a);
    a.completions.forEach((row, i) => {
      if (a.finished[i]) expect(row[row.length - 1]).toBe(2);
      else expect(row.length).toBe(40);
    });
  });

  it("rejects prompts that overflow the context", async () => {
    await expect(generate(m.lm, [[1]], { maxNewTokens: 600 })).rejects.toThrow(/max_position_embeddings 512/);
  });
});
