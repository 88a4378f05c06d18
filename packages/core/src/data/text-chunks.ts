/**
 * Tokenizing texts of any length with bounded work and memory per tokenizer call: the text is cut into
 * consecutive chunks of at most CHUNK_CHARS code units, preferring boundaries a tokenizer would not
 * merge across (line breaks, then just before whitespace, since BPE and SentencePiece attach a space
 * to the word after it), and each chunk is encoded on its own. The ids can stop at a limit, so a record
 * that will be truncated is never tokenized whole.
 */
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";

/** Largest chunk handed to the tokenizer, in UTF-16 code units. */
export const CHUNK_CHARS = 16_384;

/**
 * Consecutive pieces of `text` (joined, they are `text`), each at most `maxChars` code units: cut after
 * the last line break in the window, else just before the last whitespace, else at `maxChars` (never
 * inside a surrogate pair).
 * @param paragraphs also cut after every blank line (`\n\n`), as continued pretraining always has.
 */
export function* textChunks(text: string, maxChars = CHUNK_CHARS, paragraphs = false): Generator<string> {
  if (!paragraphs) {
    yield* bounded(text, maxChars);
    return;
  }
  // Cut after every "\n\n", overlapping as /(?<=\n\n)/ splits: "a\n\n\nb" -> "a\n\n", "\nb".
  let start = 0;
  for (let i = text.indexOf("\n\n"); i >= 0; i = text.indexOf("\n\n", i + 1)) {
    yield* bounded(text.slice(start, i + 2), maxChars);
    start = i + 2;
  }
  if (start < text.length) yield* bounded(text.slice(start), maxChars);
}

function* bounded(text: string, maxChars: number): Generator<string> {
  let start = 0;
  while (text.length - start > maxChars) {
    const end = start + maxChars;
    let cut = text.lastIndexOf("\n", end - 1) + 1;
    if (cut <= start) {
      cut = -1;
      for (let i = end - 1; i > start; i--) {
        if (/\s/.test(text[i]!)) {
          cut = i;
          break;
        }
      }
      if (cut <= start) {
        cut = end;
        const c = text.charCodeAt(cut - 1);
        if (c >= 0xd800 && c <= 0xdbff) cut--;
      }
    }
    yield text.slice(start, cut);
    start = cut;
  }
  if (start < text.length) yield text.slice(start);
}

export interface EncodeLongOptions {
  /** Prepend BOS when the tokenizer adds one (default false). */
  bos?: boolean;
  /** Stop once this many ids are collected (BOS included); the ids are cut to it. */
  maxTokens?: number;
  /** Cut after every blank line too (see textChunks). */
  paragraphs?: boolean;
  /** Chunk size in code units (default CHUNK_CHARS). */
  chunkChars?: number;
}

/**
 * Token ids of `text`, encoded chunk by chunk without special tokens (BOS as `bos` asks; never EOS).
 * @returns the ids (at most `maxTokens`) and whether text was left out because of `maxTokens`.
 */
export function encodeLong(tok: TokenizerLike, text: string, opts: EncodeLongOptions = {}): { ids: number[]; truncated: boolean } {
  const max = opts.maxTokens ?? Infinity;
  const ids: number[] = [];
  if (opts.bos && tok.addBosToken && tok.bosTokenId !== null) ids.push(tok.bosTokenId);
  const chunks = textChunks(text, opts.chunkChars ?? CHUNK_CHARS, opts.paragraphs ?? false);
  let truncated = false;
  for (let c = chunks.next(); !c.done; c = chunks.next()) {
    if (ids.length >= max) {
      truncated = true;
      break;
    }
    for (const id of tok.encode(c.value, { addSpecialTokens: false })) ids.push(id);
  }
  if (ids.length > max) {
    ids.length = max;
    truncated = true;
  }
  return { ids, truncated };
}
