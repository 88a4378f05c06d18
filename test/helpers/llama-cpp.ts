/**
 * Checking exported GGUF files with llama.cpp itself (node-llama-cpp's prebuilt CPU binary, no network):
 * greedy continuations from llama.cpp next to ortrl's own greedy generation and its top-2 logit margins.
 */
import { type CausalLM, generate, padBatch } from "@ortrl/core";
import { type Llama, LlamaLogLevel, type Token, getLlama } from "node-llama-cpp";

let llamaPromise: Promise<Llama> | null = null;

/** The llama.cpp runtime (CPU, prebuilt binary only: never builds or downloads). */
export function llamaCpp(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  return llamaPromise;
}

/** llama.cpp's greedy continuation (temperature 0) of `prompt` token ids, `n` tokens, optionally through GGUF LoRA adapters. */
export async function llamaCppGreedy(gguf: string, prompt: readonly number[], n: number, loraPaths: string[] = []): Promise<number[]> {
  const llama = await llamaCpp();
  const model = await llama.loadModel({ modelPath: gguf });
  try {
    const ctx = await model.createContext({ threads: 1, contextSize: Math.max(64, prompt.length + n + 8), lora: loraPaths.length ? { adapters: loraPaths.map((filePath) => ({ filePath })) } : undefined });
    try {
      const out: number[] = [];
      for await (const t of ctx.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
        out.push(t);
        if (out.length >= n) break;
      }
      return out;
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's text for token ids (special tokens dropped). */
export async function llamaCppDetokenize(gguf: string, ids: readonly number[]): Promise<string> {
  const model = await (await llamaCpp()).loadModel({ modelPath: gguf, vocabOnly: true });
  try {
    return model.detokenize(ids as Token[]);
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's tokenization of `text` (special-token strings parsed as their tokens; no BOS added). */
export async function llamaCppTokenize(gguf: string, text: string): Promise<number[]> {
  const model = await (await llamaCpp()).loadModel({ modelPath: gguf, vocabOnly: true });
  try {
    return [...model.tokenize(text, true)];
  } finally {
    await model.dispose();
  }
}

/**
 * ortrl's greedy continuation (what `ortrl generate --temperature 0` computes: core `generate`, no EOS stop here so
 * the lengths match llama.cpp's) and, at each generated position, the margin between the top two logits.
 */
export async function ortrlGreedy(lm: CausalLM, prompt: readonly number[], n: number): Promise<{ ids: number[]; margins: number[] }> {
  const { completions } = await generate(lm, [prompt], { maxNewTokens: n, temperature: 0 });
  const ids = completions[0]!;
  const seq = [...prompt, ...ids];
  const logits = await lm.logits(padBatch([seq]));
  const V = lm.arch.vocabSize;
  const margins = ids.map((_, k) => {
    const row = logits.subarray((prompt.length - 1 + k) * V, (prompt.length + k) * V);
    let a = -Infinity;
    let b = -Infinity;
    for (const x of row) {
      if (x > a) { b = a; a = x; } else if (x > b) b = x;
    }
    return a - b;
  });
  return { ids, margins };
}

/** Positions compared: up to (excluding) the first whose top-2 margin is below `minMargin`. */
export function comparablePrefix(margins: readonly number[], minMargin = 1e-3): number {
  const i = margins.findIndex((m) => m < minMargin);
  return i < 0 ? margins.length : i;
}

/** Length of the common prefix of two token lists. */
export function agreeing(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
