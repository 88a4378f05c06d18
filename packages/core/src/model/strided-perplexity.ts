/**
 * Sliding-window (strided) perplexity of documents longer than a model's context, as transformers'
 * guide "Perplexity of fixed-length models" computes it: windows of `maxLength` tokens start every
 * `stride` tokens (begin = 0, stride, 2*stride, ...; end = min(begin + maxLength, n)), and each window
 * scores only the tokens it adds, positions [prevEnd, end) (prevEnd = the previous window's end); its
 * earlier tokens are context (labels -100). The loop stops at the window that reaches the document's
 * end. stride = maxLength gives disjoint windows; a smaller stride gives every scored token more context.
 *
 * Counting is exact: loss = (sum of the NLL of every scored token) / (number of scored tokens), the
 * token-weighted mean over all windows of all documents, and perplexity = exp(loss). (The guide
 * multiplies each window's mean loss by trg_len = end - prevEnd, which over-counts by one token
 * whenever a window's first target has no context in that window: position 0 is never predicted by a
 * causal LM.) A token is a prediction target only when its window holds the token before it, so:
 *   - the document's first token (BOS, when there is one) is never scored;
 *   - with stride < maxLength, every other token is scored exactly once;
 *   - with stride = maxLength (disjoint windows) the first token of each later window is not scored
 *     either (it starts a window, with nothing before it), exactly as in the guide; those tokens are
 *     counted in {@link StridedResult.unscored}, never hidden.
 */
import { evaluateLoss } from "./evaluate.js";
import type { CausalLM } from "./causal-lm.js";

/** One window over a document's tokens: inputs [begin, end), targets [target, end). */
export interface StridedWindow {
  begin: number;
  end: number;
  /** First position whose label is kept (prevEnd); the tokens before it are context. */
  target: number;
}

export interface StridedOptions {
  /** Tokens per window (at most the model's max_position_embeddings), >= 2. */
  maxLength: number;
  /** Tokens between two window starts, 1..maxLength. Default maxLength (disjoint windows). */
  stride?: number;
  /** Windows per forward pass (default 8). */
  batchSize?: number;
}

export interface StridedResult {
  /** Mean NLL per scored token (nats), exact over all windows of all documents. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Tokens scored (predicted from at least one token of context). */
  tokens: number;
  /** Windows run. */
  windows: number;
  /** Tokens never predicted: each document's first token, plus each later window's first token when windows are disjoint. */
  unscored: number;
}

/**
 * The guide's windows over a document of `length` tokens.
 * @throws RangeError when maxLength < 2 or stride is not in 1..maxLength.
 */
export function stridedWindows(length: number, maxLength: number, stride = maxLength): StridedWindow[] {
  if (!(Number.isInteger(maxLength) && maxLength >= 2)) throw new RangeError(`strided perplexity: maxLength must be an integer >= 2, got ${maxLength}`);
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= maxLength)) throw new RangeError(`strided perplexity: stride must be an integer in 1..maxLength (${maxLength}), got ${stride}`);
  const out: StridedWindow[] = [];
  let prevEnd = 0;
  for (let begin = 0; begin < length; begin += stride) {
    const end = Math.min(begin + maxLength, length);
    out.push({ begin, end, target: prevEnd });
    prevEnd = end;
    if (end === length) break;
  }
  return out;
}

/**
 * Strided perplexity of documents (see the file comment): every window of every document, batched
 * through {@link evaluateLoss} with labels -100 on each window's context.
 * @param documents token ids per document (BOS included as the model expects).
 * @throws RangeError for bad maxLength / stride (or maxLength above max_position_embeddings); Error
 *   when no document has 2 tokens.
 */
export async function stridedPerplexity(lm: CausalLM, documents: readonly (readonly number[])[], opts: StridedOptions): Promise<StridedResult> {
  const { maxLength } = opts;
  const stride = opts.stride ?? maxLength;
  if (maxLength > lm.arch.maxPositionEmbeddings) throw new RangeError(`strided perplexity: maxLength ${maxLength} exceeds max_position_embeddings ${lm.arch.maxPositionEmbeddings}`);
  const rows: number[][] = [];
  const labels: number[][] = [];
  let total = 0;
  for (const doc of documents) {
    total += doc.length;
    for (const w of stridedWindows(doc.length, maxLength, stride)) {
      const row = doc.slice(w.begin, w.end);
      rows.push(row);
      labels.push(row.map((id, i) => (w.begin + i < w.target ? -100 : id)));
    }
  }
  const r = await evaluateLoss(lm, rows, { labels, batchSize: opts.batchSize });
  return { ...r, windows: rows.length, unscored: total - r.tokens };
}
