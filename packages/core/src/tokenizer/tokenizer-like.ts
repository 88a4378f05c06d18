/**
 * What trainers and data pipelines need from a tokenizer (`TokenizerLike`), and the options of its calls.
 * Implemented by `Tokenizer` (a Hugging Face tokenizer, hf-tokenizer.ts) and `ByteTokenizer`
 * (byte-tokenizer.ts); depend on this interface rather than on either.
 */
import type { ChatMessage, ChatTemplateOptions } from "./chat-template.js";

export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer is configured to (`addBosToken` / `addEosToken`). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, pad, unk and other added tokens marked special). Default false. */
  skipSpecialTokens?: boolean;
}

/** What trainers and data pipelines need from a tokenizer. */
export interface TokenizerLike {
  /** Id of the BOS token, or null when the tokenizer has none. */
  readonly bosTokenId: number | null;
  /** Id of the EOS token, or null when the tokenizer has none. */
  readonly eosTokenId: number | null;
  /** Id of the padding token, or null when the tokenizer config sets none (trainers usually fall back to EOS). */
  readonly padTokenId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  /** Number of ids, added tokens included (transformers' `len(tokenizer)`); may exceed the model's vocab_size or fall short of it. */
  readonly vocabSize: number;
  /** The Jinja chat template, or null when there is none. */
  readonly chatTemplate: string | null;
  /** Longest input the model takes, in tokens; `Infinity` when not set (or set to transformers' 1e30 "no limit"). */
  readonly modelMaxLength: number;
  /** Whether `encode` prepends BOS when `addSpecialTokens` is true. */
  readonly addBosToken: boolean;
  /** Whether `encode` appends EOS when `addSpecialTokens` is true. */
  readonly addEosToken: boolean;
  /** Text to ids. Strings of special/added tokens in the text (e.g. an EOS rendered by a chat template) become their ids. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** Ids to text. @throws Error for an id outside the vocabulary. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The id of a token string (vocabulary or added token), or null. */
  tokenToId(token: string): number | null;
  /** The token string of an id, or null. */
  idToToken(id: number): string | null;
  /**
   * Renders `messages` with the chat template (to text; encode it to get ids).
   * @throws Error when there is no template, the template does not parse, or it calls `raise_exception`.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}
