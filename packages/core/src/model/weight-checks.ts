/**
 * Load-time checks that make a wrong checkpoint an error instead of a silently wrong model: every tensor of the
 * weights used and every expected one present (transformers' "unused / missing weights", here errors), no NaN/Inf
 * in a tensor, and a tokenizer whose ids fit the embedding.
 */
/**
 * Tensors a checkpoint may hold that the model does not use and transformers ignores without a word:
 * `rotary_emb.inv_freq` buffers saved by older Llama/Mistral/Qwen2 checkpoints (transformers'
 * `_keys_to_ignore_on_load_unexpected`); ortrl recomputes the frequencies from rope_theta.
 */
export const IGNORED_UNUSED_TENSORS: readonly RegExp[] = [/(^|\.)rotary_emb\.inv_freq$/];

/** How many names {@link formatNames} lists before "(and N more)". */
const LIST_MAX = 5;

/** `'a', 'b', 'c' (and 7 more)`: at most five quoted names, then the count of the rest. */
export function formatNames(names: readonly string[], max = LIST_MAX): string {
  const shown = names.slice(0, max).map((n) => `'${n}'`).join(", ");
  return names.length > max ? `${shown} (and ${names.length - max} more)` : shown;
}

/** NaN/Inf entries of a tensor: how many, and the first one's index and value. */
export interface NonFinite {
  count: number;
  first: number;
  value: number;
}

/**
 * Finds NaN and ±Infinity entries. One pass without allocation (a finite x gives x * 0 = ±0, so the sums stay 0
 * unless some entry is NaN/Inf; about 0.7 ns an entry on this project's CPU); only a tensor that has some is
 * scanned again to count them.
 * @returns null when every entry is finite.
 */
export function findNonFinite(data: Float32Array): NonFinite | null {
  // Four independent sums so the additions do not wait on each other (about 2x faster than one).
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n = data.length;
  const n4 = n - (n % 4);
  for (let i = 0; i < n4; i += 4) {
    a0 += data[i]! * 0;
    a1 += data[i + 1]! * 0;
    a2 += data[i + 2]! * 0;
    a3 += data[i + 3]! * 0;
  }
  for (let i = n4; i < n; i++) a0 += data[i]! * 0;
  if (a0 + a1 + a2 + a3 === 0) return null;
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first, value: data[first]! };
}

/**
 * @param file the file holding the tensor (for the message).
 * @throws Error `FILE: tensor 'NAME' has N NaN/Inf values (first at index I: NaN)` when an entry is not finite.
 */
export function assertFinite(data: Float32Array, file: string, tensor: string): void {
  const bad = findNonFinite(data);
  if (!bad) return;
  const what = bad.count === 1 ? "1 NaN/Inf value" : `${bad.count} NaN/Inf values`;
  throw new Error(`${file}: tensor '${tensor}' has ${what} (first at index ${bad.first}: ${bad.value})`);
}

/** Layer indices `model.layers.<i>.` named in `names`, sorted. */
function layerIndices(names: Iterable<string>): number[] {
  const set = new Set<number>();
  for (const n of names) {
    const m = /^model\.layers\.(\d+)\./.exec(n);
    if (m) set.add(Number(m[1]));
  }
  return [...set].sort((a, b) => a - b);
}

export interface TensorNameCheck {
  /** Directory or file named at the start of each message. */
  source: string;
  /** Tensors the config implies. */
  expected: readonly string[];
  /** Tensors the weights hold. */
  present: readonly string[];
  /** Present tensors to leave out of the unused check (default {@link IGNORED_UNUSED_TENSORS}). */
  ignored?: readonly RegExp[];
  /** config.json's num_hidden_layers, for a hint when the weights hold another number of layers. */
  numHiddenLayers?: number;
}

/**
 * Every expected tensor must be present and every present tensor expected (or ignored).
 * @throws Error `SOURCE: model weights lack N tensors the config implies: ...` or
 *   `SOURCE: model weights have N tensors the model does not use: ...`, listing up to five names and, when the
 *   weights hold another number of layers than config.json's num_hidden_layers, saying so.
 */
export function checkTensorNames(c: TensorNameCheck): void {
  const present = new Set(c.present);
  const expected = new Set(c.expected);
  const ignored = c.ignored ?? IGNORED_UNUSED_TENSORS;
  const missing = c.expected.filter((n) => !present.has(n));
  const unused = c.present.filter((n) => !expected.has(n) && !ignored.some((re) => re.test(n)));
  if (!missing.length && !unused.length) return;
  let hint = "";
  if (c.numHiddenLayers !== undefined) {
    const layers = layerIndices(present);
    const n = layers.length ? layers[layers.length - 1]! + 1 : 0;
    if (n !== c.numHiddenLayers) hint = ` (config.json has num_hidden_layers ${c.numHiddenLayers}; the weights have layers up to ${n - 1})`;
  }
  const s = (k: number) => (k === 1 ? "" : "s");
  if (missing.length) throw new Error(`${c.source}: model weights lack ${missing.length} tensor${s(missing.length)} the config implies: ${formatNames(missing)}${hint}`);
  throw new Error(`${c.source}: model weights have ${unused.length} tensor${s(unused.length)} the model does not use: ${formatNames(unused)}${hint}`);
}

/**
 * The tokenizer's ids must index rows of the embedding: its largest id (added tokens included) must be below
 * config.json's vocab_size. (A tokenizer smaller than the embedding is fine, as in transformers.)
 * @param tokenizer its size and largest id (added tokens included), e.g. a Tokenizer.
 * @throws Error naming both files and both numbers.
 */
export function checkTokenizerFitsEmbedding(dir: string, tokenizer: { vocabSize: number; maxTokenId: number }, vocabSize: number): void {
  const maxTokenId = tokenizer.maxTokenId;
  if (maxTokenId < vocabSize) return;
  throw new Error(
    `${dir}: tokenizer.json has ${tokenizer.vocabSize} tokens (ids up to ${maxTokenId}, added tokens included) but the model's embedding has ` +
      `${vocabSize} rows (config.json vocab_size): token ids >= ${vocabSize} would index past it; resize the embedding or use the model's own tokenizer`,
  );
}
