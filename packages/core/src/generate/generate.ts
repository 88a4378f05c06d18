/**
 * Batched autoregressive generation with a key/value cache.
 *
 * Prompts are left-padded into one batch and run through the prefill graph, which returns the last
 * position's logits and every layer's rotated keys/values. The cache lives in JS buffers of shape
 * [B, KV, S, D] per layer (S = longest prompt + maxNewTokens - 1); each decode step feeds the whole
 * cache zero-copy (unfilled slots are masked out by segment 0) and receives only the new position's
 * keys/values, which are written into the cache. Rows stop at an EOS token; the batch stops when all
 * rows have stopped or maxNewTokens is reached.
 */
import type { Value } from "../ir/graph.js";
import type { TensorData } from "../runtime/runtime.js";
import { Rng } from "../util/rng.js";
import type { CausalLM } from "../model/causal-lm.js";
import { padBatch, batchFeeds } from "../model/batch.js";
import { type SamplingOptions, sampleToken } from "./sampling.js";

export interface GenerateOptions extends SamplingOptions {
  /** Maximum number of new tokens per row (tokens). */
  maxNewTokens: number;
  /** Token id(s) that end a row (the EOS token is kept in the completion). */
  eosTokenId?: number | readonly number[];
  /** Id fed for rows that have finished (default: the first EOS id, else 0). */
  padTokenId?: number;
  /** Seed of the sampler's RNG (same seed, same output). Default 0. */
  seed?: number;
  /** Or an RNG to draw from (its state advances; takes precedence over `seed`). */
  rng?: Rng;
}

export interface GenerateOutput {
  /** New tokens per row (prompt excluded), up to and including EOS. */
  completions: number[][];
  /** Whether each row ended with EOS (false: stopped at maxNewTokens). */
  finished: boolean[];
}

/**
 * Generates continuations of `prompts` (token ids, BOS included if wanted).
 * @throws RangeError when a prompt is empty, maxNewTokens < 1, or prompt + maxNewTokens exceeds
 *   the model's max_position_embeddings.
 */
export async function generate(lm: CausalLM, prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateOutput> {
  const { arch } = lm;
  if (prompts.length === 0) return { completions: [], finished: [] };
  if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) throw new RangeError(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new RangeError(`generate: prompt ${i} is empty (add a BOS token)`);
  });
  const Tp = Math.max(...prompts.map((p) => p.length));
  if (Tp + opts.maxNewTokens > arch.maxPositionEmbeddings) {
    throw new RangeError(`generate: prompt (${Tp} tokens) + maxNewTokens (${opts.maxNewTokens}) exceeds max_position_embeddings ${arch.maxPositionEmbeddings}`);
  }
  const eos = new Set(opts.eosTokenId === undefined ? [] : typeof opts.eosTokenId === "number" ? [opts.eosTokenId] : opts.eosTokenId);
  const padId = opts.padTokenId ?? (eos.size ? [...eos][0]! : 0);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const B = prompts.length;
  const V = arch.vocabSize;
  const KV = arch.numKeyValueHeads;
  const D = arch.headDim;
  const L = arch.numHiddenLayers;
  const S = Math.max(Tp + opts.maxNewTokens - 1, 1);

  const graphs = await lm.generationGraphs();
  const prefillOut: Record<string, Value> = { logits: graphs.prefill.lastLogits };
  graphs.prefill.keys.forEach((k, i) => (prefillOut[`key.${i}`] = k));
  graphs.prefill.values.forEach((v, i) => (prefillOut[`value.${i}`] = v));
  const decodeOut: Record<string, Value> = { logits: graphs.decode.logits };
  graphs.decode.keys.forEach((k, i) => (decodeOut[`key.${i}`] = k));
  graphs.decode.values.forEach((v, i) => (decodeOut[`value.${i}`] = v));
  const [prefill, decode] = await Promise.all([
    lm.runtime.compile(graphs.prefill.lg.graph, prefillOut),
    lm.runtime.compile(graphs.decode.lg.graph, decodeOut),
  ]);

  // Prefill.
  const batch = padBatch(prompts, { side: "left", padId });
  const pre = await prefill.run({ ...lm.weightFeeds(graphs.prefill.lg), ...batchFeeds(batch) });

  // Cache buffers [B, KV, S, D] and their positions/segments [B, S].
  const keys = Array.from({ length: L }, () => new Float32Array(B * KV * S * D));
  const values = Array.from({ length: L }, () => new Float32Array(B * KV * S * D));
  const cachePos = new BigInt64Array(B * S);
  const cacheSeg = new BigInt64Array(B * S);
  const write = (dst: Float32Array, src: Float32Array, srcLen: number, slot: number, n: number) => {
    for (let bk = 0; bk < B * KV; bk++) dst.set(src.subarray(bk * srcLen * D, (bk * srcLen + n) * D), (bk * S + slot) * D);
  };
  for (let i = 0; i < L; i++) {
    write(keys[i]!, pre[`key.${i}`]!.data as Float32Array, Tp, 0, Math.min(Tp, S));
    write(values[i]!, pre[`value.${i}`]!.data as Float32Array, Tp, 0, Math.min(Tp, S));
  }
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Math.min(Tp, S); t++) {
      cachePos[b * S + t] = batch.positionIds[b * Tp + t]!;
      cacheSeg[b * S + t] = batch.attentionMask[b * Tp + t]!;
    }
  }
  const nextPos = prompts.map((p) => p.length);

  const completions: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  let logits = pre.logits!.data as Float32Array;
  const weightFeeds = lm.weightFeeds(graphs.decode.lg);
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const tokens = new BigInt64Array(B);
    for (let b = 0; b < B; b++) {
      if (finished[b]) {
        tokens[b] = BigInt(padId);
        continue;
      }
      const id = sampleToken(logits, b * V, V, opts, rng);
      completions[b]!.push(id);
      if (eos.has(id)) finished[b] = true;
      tokens[b] = BigInt(id);
    }
    if (finished.every(Boolean) || step + 1 === opts.maxNewTokens) break;

    const slot = Tp + step;
    const feeds: Record<string, TensorData> = {
      ...weightFeeds,
      input_ids: { data: tokens, dims: [B, 1] },
      attention_mask: { data: new BigInt64Array(B).fill(1n), dims: [B, 1] },
      position_ids: { data: BigInt64Array.from(nextPos.map(BigInt)), dims: [B, 1] },
      cache_position_ids: { data: cachePos, dims: [B, S] },
      cache_attention_mask: { data: cacheSeg, dims: [B, S] },
    };
    for (let i = 0; i < L; i++) {
      feeds[`past_key.${i}`] = { data: keys[i]!, dims: [B, KV, S, D] };
      feeds[`past_value.${i}`] = { data: values[i]!, dims: [B, KV, S, D] };
    }
    const out = await decode.run(feeds);
    for (let i = 0; i < L; i++) {
      write(keys[i]!, out[`key.${i}`]!.data as Float32Array, 1, slot, 1);
      write(values[i]!, out[`value.${i}`]!.data as Float32Array, 1, slot, 1);
    }
    for (let b = 0; b < B; b++) {
      cachePos[b * S + slot] = BigInt(nextPos[b]!);
      cacheSeg[b * S + slot] = 1n;
      nextPos[b]!++;
    }
    logits = out.logits!.data as Float32Array;
  }
  return { completions, finished };
}
