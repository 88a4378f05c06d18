/**
 * Raw text for continued pretraining: a plain-text file is one document; a file of records (JSON Lines,
 * a JSON array, CSV or Parquet, gzip or not: the content decides, whatever the name) gives one document
 * per `{"text"}` record. Records with empty text are skipped and counted (dropEmptyRecords: the rule of
 * every command).
 *
 * Training: each document is tokenized with the tokenizer's BOS (as configured) and followed by EOS.
 * With packing, all documents are concatenated and cut into blocks of exactly maxSeqLength tokens (the
 * remainder is dropped, as transformers' run_clm group_texts); without, each document is truncated.
 * Labels are the inputs (every token is scored).
 *
 * Evaluation: each document is scored on its own, BOS + text without EOS, as `ortrl eval` does; a
 * document longer than maxSeqLength is cut into consecutive maxSeqLength blocks, so all of it counts.
 */
import { DataError, type TokenizedExample, type TokenizerLike, dropEmptyRecords, encodeLong, isBlank, readDataFile, recordUnit, stringField } from "@ortrl/core";

export interface Document {
  source: string;
  text: string;
}

/**
 * Reads documents from one file (format by content, see @ortrl/core's formats.ts).
 * @throws DataError naming the file and line for malformed records, a record without a string `text`,
 *   an empty file, or a file whose records all have empty text.
 */
export function readDocuments(path: string): Document[] {
  const c = readDataFile(path);
  if (c.format === "text") {
    if (!c.text.trim()) throw new DataError(path, 0, "file is empty");
    return [{ source: path, text: c.text }];
  }
  if (c.records.length === 0) throw new DataError(path, 0, "no records");
  const docs = c.records.map((r) => ({ line: r.line, source: `${path}:${r.line}`, text: stringField(path, r, "text") }));
  return dropEmptyRecords(path, docs, (d) => (isBlank(d.text) ? "text" : undefined), recordUnit(c.records)).map(({ source, text }) => ({ source, text }));
}

/** Splits documents into (train, held-out): the last `fraction` of each text file's characters (cut at a line break), or the last records of a JSONL file. */
export function holdOut(docs: Document[], fraction: number): { train: Document[]; held: Document[] } {
  if (fraction <= 0) return { train: docs, held: [] };
  if (docs.length > 1) {
    const k = Math.max(1, Math.round(docs.length * fraction));
    return { train: docs.slice(0, docs.length - k), held: docs.slice(docs.length - k) };
  }
  const { text, source } = docs[0]!;
  let cut = Math.floor(text.length * (1 - fraction));
  const nl = text.lastIndexOf("\n", cut);
  if (nl > 0) cut = nl + 1;
  return { train: [{ source, text: text.slice(0, cut) }], held: [{ source: `${source} (held out)`, text: text.slice(cut) }] };
}

/**
 * Tokenizes a long text in chunks (after every blank line, and at most CHUNK_CHARS code units each, cut
 * at line breaks or before whitespace), which bounds the tokenizer's work per call; the document is
 * still tokenized whole.
 */
export function tokenizeLong(tok: TokenizerLike, text: string): number[] {
  return encodeLong(tok, text, { paragraphs: true }).ids;
}

/** BOS (when the tokenizer adds one) + document tokens + EOS. */
export function documentTokens(tok: TokenizerLike, text: string): number[] {
  const ids = tokenizeLong(tok, text);
  if (tok.addBosToken && tok.bosTokenId !== null) ids.unshift(tok.bosTokenId);
  if (tok.eosTokenId !== null) ids.push(tok.eosTokenId);
  return ids;
}

/**
 * Training examples for a set of documents.
 * @throws Error when the documents yield no block of at least 2 tokens.
 */
export function buildTrainExamples(tok: TokenizerLike, docs: Document[], maxSeqLength: number, packing: boolean): TokenizedExample[] {
  const out: TokenizedExample[] = [];
  if (!packing) {
    for (const d of docs) {
      const all = documentTokens(tok, d.text);
      if (all.length > maxSeqLength) {
        process.emitWarning(`${d.source}: packing is off, so only the first ${maxSeqLength} of its ${all.length} tokens are trained on`, { code: "ORTRL_CPT_TRUNCATED" });
      }
      const ids = all.slice(0, maxSeqLength);
      if (ids.length >= 2) out.push({ inputIds: ids, labels: [...ids] });
    }
  } else {
    const stream: number[] = [];
    for (const d of docs) for (const id of documentTokens(tok, d.text)) stream.push(id);
    for (let i = 0; i + maxSeqLength <= stream.length; i += maxSeqLength) {
      const ids = stream.slice(i, i + maxSeqLength);
      out.push({ inputIds: ids, labels: [...ids] });
    }
    const rest = stream.length % maxSeqLength;
    if (out.length === 0 && rest >= 2) {
      const ids = stream.slice(stream.length - rest);
      out.push({ inputIds: ids, labels: [...ids] });
    }
  }
  if (out.length === 0) throw new Error(`no training block of at least 2 tokens in ${docs.map((d) => d.source).join(", ")}`);
  return out;
}

/**
 * Evaluation examples: one per document (BOS + text, no EOS), long documents cut into blocks.
 * @throws Error when no document has 2 tokens.
 */
export function buildEvalExamples(tok: TokenizerLike, docs: Document[], maxSeqLength: number): TokenizedExample[] {
  const out: TokenizedExample[] = [];
  for (const d of docs) {
    const ids = tokenizeLong(tok, d.text);
    if (tok.addBosToken && tok.bosTokenId !== null) ids.unshift(tok.bosTokenId);
    for (let i = 0; i < ids.length; i += maxSeqLength) {
      const block = ids.slice(i, i + maxSeqLength);
      if (block.length >= 2) out.push({ inputIds: block, labels: [...block] });
    }
  }
  if (out.length === 0) throw new Error(`no evaluation text of at least 2 tokens in ${docs.map((d) => d.source).join(", ")}`);
  return out;
}
