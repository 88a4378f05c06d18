/**
 * `tokenizer.ggml.*` metadata from a Hugging Face tokenizer.json (+ tokenizer_config.json), as llama.cpp's converter
 * writes it for the two tokenizer families of Llama-architecture models:
 *
 * - SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`): a BPE model with byte fallback and the Metaspace
 *   ("▁") convention. llama.cpp's SPM tokenizer merges the adjacent pair with the highest score, so each token's
 *   score is minus the rank of the first merge that produces it (tokens no merge produces come after every merge,
 *   by id) — the order a SentencePiece BPE model's own scores have. Byte tokens `<0xXX>` are type BYTE.
 * - byte-level BPE (`"gpt2"`): tokens and merges as tokenizer.json has them, and `tokenizer.ggml.pre` naming
 *   llama.cpp's pre-tokenizer regexes; derived from tokenizer.json's `pre_tokenizer` ({@link preTokenizerName}).
 *
 * Token types (llama.cpp's `llama_token_type`): 1 normal, 2 unknown, 3 control (special added tokens),
 * 4 user-defined (non-special added tokens), 5 unused (padding up to the model's vocab_size), 6 byte.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Tokenizer } from "@ortrl/core";
import { type GgufValue, gv } from "./gguf-file.js";

const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The byte-level pre-tokenizers llama.cpp has names for, as tokenizer.json spells them. */
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function isByteLevel(p: unknown, useRegex: boolean): boolean {
  return isObj(p) && p.type === "ByteLevel" && p.add_prefix_space === false && (p.use_regex ?? true) === useRegex;
}

/**
 * llama.cpp's `tokenizer.ggml.pre` for a byte-level BPE tokenizer.json `pre_tokenizer`:
 * - `ByteLevel` (regex on, no prefix space) alone: "gpt-2" (llama.cpp's spelling);
 * - `Digits` (individual digits) then `ByteLevel`: "smollm" (SmolLM/SmolLM2; llama.cpp splits digits, then GPT-2's regex);
 * - Llama 3's `Split` regex then `ByteLevel` without regex: "llama-bpe".
 * @returns null when llama.cpp has no pre-tokenizer that splits text the same way.
 */
export function preTokenizerName(pre: unknown): string | null {
  if (isByteLevel(pre, true)) return "gpt-2";
  if (!isObj(pre) || pre.type !== "Sequence" || !Array.isArray(pre.pretokenizers)) return null;
  const [a, b, ...rest] = pre.pretokenizers as unknown[];
  if (rest.length) return null;
  if (isObj(a) && a.type === "Digits" && a.individual_digits === true && isByteLevel(b, true)) return "smollm";
  if (isObj(a) && a.type === "Split" && isObj(a.pattern) && a.pattern.Regex === LLAMA3_REGEX && a.behavior === "Isolated" && a.invert === false && isByteLevel(b, false)) return "llama-bpe";
  return null;
}

/**
 * What llama.cpp's SentencePiece tokenizer cannot do of a tokenizer.json normalizer. llama.cpp escapes spaces to
 * "▁" and prepends one (add_space_prefix) itself, so Llama 2's `Prepend("▁")` / `Replace(" ", "▁")` steps are its own
 * behaviour. SentencePiece's whitespace clean-up as HF converts it (`Replace(" {2,}", " ")` and the strip of one leading
 * and trailing space, as stories260K has) is not applied by llama.cpp: returned as a warning (only text with repeated
 * or edge spaces tokenizes differently). Anything else (Lowercase, NFKC, ...) changes ordinary text: an error.
 * @returns warnings; @throws Error naming tokenizer.json and the normalizer step.
 */
/** The steps of tokenizer.json's normalizer (a Sequence's list, or the one normalizer; none when null). */
function normalizerSteps(tok: Json): unknown[] {
  const norm = tok.normalizer;
  if (!isObj(norm)) return [];
  return norm.type === "Sequence" && Array.isArray(norm.normalizers) ? (norm.normalizers as unknown[]) : [norm];
}

const SPM_SPACE_CLEANUP = [" {2,}", "(?<![\\s\\S]) | (?![\\s\\S])"];

function checkSpmNormalizer(tok: Json, file: string): string[] {
  const steps = normalizerSteps(tok);
  let spaces = false;
  for (const st of steps) {
    if (isObj(st) && st.type === "Prepend" && st.prepend === "▁") continue;
    if (isObj(st) && st.type === "Replace" && isObj(st.pattern) && st.pattern.String === " " && st.content === "▁") continue;
    if (isObj(st) && st.type === "Replace" && isObj(st.pattern) && SPM_SPACE_CLEANUP.includes(st.pattern.Regex as string) && (st.content === " " || st.content === "")) {
      spaces = true;
      continue;
    }
    throw new Error(`${file}: normalizer step ${JSON.stringify(st)}: llama.cpp's SentencePiece tokenizer has no such step, so the GGUF would tokenize text differently`);
  }
  return spaces ? [`${file}: the normalizer collapses runs of spaces and strips a leading/trailing space; llama.cpp does not, so text with repeated or edge spaces tokenizes differently there (ordinary text is the same)`] : [];
}

/** Whether the text is split on "▁" the SentencePiece way: a Metaspace pre-tokenizer, or Llama 2's normalizer. */
function spmSpacePrefix(tok: Json): boolean | null {
  const pre = tok.pre_tokenizer;
  if (isObj(pre) && pre.type === "Metaspace") {
    if (pre.prepend_scheme !== undefined) return pre.prepend_scheme !== "never";
    return pre.add_prefix_space !== false;
  }
  const steps = normalizerSteps(tok);
  const replacesSpace = steps.some((s) => isObj(s) && s.type === "Replace" && isObj(s.pattern) && s.pattern.String === " " && s.content === "▁");
  if (pre == null && replacesSpace) return steps.some((s) => isObj(s) && s.type === "Prepend" && s.prepend === "▁");
  return null;
}

function mergeStrings(merges: unknown, file: string): string[] {
  if (!Array.isArray(merges)) throw new Error(`${file}: model.merges must be a list`);
  return merges.map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return `${m[0]} ${m[1]}`;
    throw new Error(`${file}: model.merges[${i}] must be "a b" or ["a", "b"]`);
  });
}

/**
 * tokenizer.ggml.* for the tokenizer of `modelDir`, with `vocabSize` tokens (the model's embedding rows; tokens
 * beyond the tokenizer's are written as `[PAD<i>]`, type unused, as llama.cpp's converter does).
 * @throws Error naming tokenizer.json and the field when the tokenizer is neither SentencePiece-style BPE nor
 *   byte-level BPE (e.g. Unigram or WordPiece), its pre-tokenizer has no llama.cpp name, it has ids beyond vocabSize,
 *   or a file is missing.
 */
export async function tokenizerMetadata(modelDir: string, vocabSize: number, opts: { chatTemplate?: string; warnings?: string[] } = {}): Promise<[string, GgufValue][]> {
  const file = path.join(modelDir, "tokenizer.json");
  if (!fs.existsSync(file)) throw new Error(`${modelDir}: no tokenizer.json: GGUF files carry the tokenizer, so the model directory needs one`);
  let tok: Json;
  try {
    tok = JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(tok)) throw new Error(`${file}: not a JSON object`);
  const model = isObj(tok.model) ? tok.model : {};
  if (model.type !== "BPE") throw new Error(`${file}: model.type ${JSON.stringify(model.type)}: GGUF export supports BPE tokenizers (SentencePiece-style with byte fallback, or byte-level)`);
  const hf = await Tokenizer.fromDir(modelDir);
  const vocab = isObj(model.vocab) ? (model.vocab as Record<string, number>) : {};
  const added = Array.isArray(tok.added_tokens) ? (tok.added_tokens as Json[]) : [];
  const tokens: (string | undefined)[] = [];
  for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
  const addedSpecial = new Map<number, boolean>();
  for (const a of added) {
    if (typeof a.id === "number" && typeof a.content === "string") {
      tokens[a.id] = a.content;
      addedSpecial.set(a.id, a.special === true);
    }
  }
  if (tokens.length > vocabSize) throw new Error(`${file}: token id ${tokens.length - 1} is beyond the model's vocab_size ${vocabSize} (config.json)`);
  const merges = mergeStrings(model.merges ?? [], file);

  const isSpm = model.byte_fallback === true;
  const spacePrefix = isSpm ? spmSpacePrefix(tok) : null;
  let pre: string | null = null;
  if (isSpm) {
    if (spacePrefix === null) throw new Error(`${file}: pre_tokenizer ${JSON.stringify(tok.pre_tokenizer)}: a byte-fallback BPE tokenizer needs SentencePiece's Metaspace ("▁") pre-tokenizer for llama.cpp's 'llama' tokenizer`);
    const normalizerWarnings = checkSpmNormalizer(tok, file);
    opts.warnings?.push(...normalizerWarnings);
  } else {
    pre = preTokenizerName(tok.pre_tokenizer);
    if (pre === null) {
      throw new Error(`${file}: pre_tokenizer ${JSON.stringify(tok.pre_tokenizer)} matches no llama.cpp pre-tokenizer (supported: ByteLevel as 'gpt-2', Digits+ByteLevel as 'smollm', Llama 3's Split+ByteLevel as 'llama-bpe')`);
    }
    if (tok.normalizer != null) throw new Error(`${file}: normalizer ${JSON.stringify(tok.normalizer)}: llama.cpp's byte-level BPE tokenizer applies no normalizer`);
  }

  const n = vocabSize;
  const strings: string[] = new Array(n);
  const types = new Int32Array(n);
  const scores = new Float32Array(n);
  const mergeRank = new Map<string, number>();
  merges.forEach((m, i) => {
    const t = m.replace(" ", "");
    if (!mergeRank.has(t)) mergeRank.set(t, i);
  });
  const unk = typeof model.unk_token === "string" ? model.unk_token : hf.unkToken;
  for (let id = 0; id < n; id++) {
    const t = tokens[id];
    if (t === undefined) {
      strings[id] = `[PAD${id}]`;
      types[id] = TokenType.UNUSED;
      scores[id] = -1e4;
      continue;
    }
    strings[id] = t;
    if (addedSpecial.has(id)) types[id] = addedSpecial.get(id) ? (t === unk ? TokenType.UNKNOWN : TokenType.CONTROL) : TokenType.USER_DEFINED;
    else if (t === unk) types[id] = TokenType.UNKNOWN;
    else if (isSpm && /^<0x[0-9A-Fa-f]{2}>$/.test(t)) types[id] = TokenType.BYTE;
    else types[id] = TokenType.NORMAL;
    const rank = mergeRank.get(t);
    scores[id] = types[id] !== TokenType.NORMAL ? 0 : rank !== undefined ? -rank : -(merges.length + id);
  }

  const entries: [string, GgufValue][] = [["tokenizer.ggml.model", gv.str(isSpm ? "llama" : "gpt2")]];
  entries.push(["tokenizer.ggml.pre", gv.str(isSpm ? "default" : pre!)]);
  entries.push(["tokenizer.ggml.tokens", gv.strs(strings)]);
  if (isSpm) entries.push(["tokenizer.ggml.scores", gv.f32s(scores)]);
  entries.push(["tokenizer.ggml.token_type", gv.i32s(types)]);
  if (!isSpm) entries.push(["tokenizer.ggml.merges", gv.strs(merges)]);
  const id = (k: string, v: number | null) => {
    if (v !== null && v >= 0 && v < n) entries.push([k, gv.u32(v)]);
  };
  // What ortrl's encode adds (tokenizer_config's add_bos_token/add_eos_token, else the post-processor's template),
  // found by encoding a probe with and without special tokens.
  const plain = hf.encode("a", { addSpecialTokens: false });
  const probe = hf.encode("a");
  const addsBos = probe.length > plain.length && probe[0] !== plain[0];
  const addsEos = probe.length > plain.length && probe[probe.length - 1] !== plain[plain.length - 1];
  id("tokenizer.ggml.bos_token_id", hf.bosTokenId ?? (addsBos ? probe[0]! : null));
  id("tokenizer.ggml.eos_token_id", hf.eosTokenId ?? (addsEos ? probe[probe.length - 1]! : null));
  id("tokenizer.ggml.unknown_token_id", hf.unkTokenId);
  id("tokenizer.ggml.padding_token_id", hf.padTokenId);
  entries.push(["tokenizer.ggml.add_bos_token", gv.bool(addsBos)], ["tokenizer.ggml.add_eos_token", gv.bool(addsEos)]);
  if (isSpm) entries.push(["tokenizer.ggml.add_space_prefix", gv.bool(spacePrefix!)]);
  const chatTemplate = opts.chatTemplate ?? hf.chatTemplate;
  if (chatTemplate) entries.push(["tokenizer.chat_template", gv.str(chatTemplate)]);
  return entries;
}
