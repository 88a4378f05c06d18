/** Model shapes used by the benchmarks (random initialisation). */
import type { LlamaArch } from "@ortrl/core";

export const BENCH_CONFIGS: Record<string, LlamaArch> = {
  /** SmolLM2-135M (DESIGN.md). */
  "smollm2-135m": {
    hiddenSize: 576,
    intermediateSize: 1536,
    numHiddenLayers: 30,
    numAttentionHeads: 9,
    numKeyValueHeads: 3,
    headDim: 64,
    vocabSize: 49152,
    rmsNormEps: 1e-5,
    ropeTheta: 100000,
    maxPositionEmbeddings: 8192,
    tieWordEmbeddings: true,
  },
  /** A small config for quick comparisons (same as bench/pytorch/llama_bench.py's `small`). */
  small: {
    hiddenSize: 256,
    intermediateSize: 688,
    numHiddenLayers: 4,
    numAttentionHeads: 8,
    numKeyValueHeads: 4,
    headDim: 32,
    vocabSize: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: true,
  },
};
