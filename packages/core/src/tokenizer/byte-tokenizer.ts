/**
 * `ByteTokenizer`: a dependency-free byte-level vocabulary (259 ids) for demos and tests. It can save
 * itself as a real HF `tokenizer.json` that `Tokenizer.fromDir` (hf-tokenizer.ts) loads back.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChatMessage, type ChatTemplateOptions, renderChatTemplate } from "./chat-template.js";
import type { DecodeOptions, EncodeOptions, TokenizerLike } from "./tokenizer-like.js";

/**
 * ByteTokenizer's default chat template: ChatML-style turns, each closed by the EOS token (the vocabulary has no
 * `<|im_end|>`, so EOS ends a turn and a generation):
 * `<|im_start|>user\nHi</s><|im_start|>assistant\nHello</s>`; the generation prompt is `<|im_start|>assistant\n`.
 */
export const BYTE_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const BYTE_SPECIALS = ["<unk>", "<s>", "</s>"] as const;
const BYTE_OFFSET = 3;
const BYTE_SPECIAL_RE = /<unk>|<\/s>|<s>/g;

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

export interface ByteTokenizerOptions {
  /** Chat template; default `BYTE_CHAT_TEMPLATE`. */
  chatTemplate?: string;
  /** Reported as `modelMaxLength`; default Infinity. */
  modelMaxLength?: number;
}

/**
 * A byte-level tokenizer: id 0 `<unk>`, 1 `<s>` (BOS), 2 `</s>` (EOS), byte b -> 3 + b (vocabSize 259), no padding
 * token. `encode(text)` is `[1, ...utf8(text).map(b => 3 + b)]`, as the "bytes" encoding of
 * shared/reference/eval_ref.py, except that the literal strings `<unk>`, `<s>`, `</s>` in the text become ids 0, 1, 2
 * (as special tokens do in every HF tokenizer; chat templates rely on it to end turns with EOS).
 *
 * `saveTo(dir)` writes a real HF `tokenizer.json` (BPE with an empty merge list, byte fallback onto `<0xXX>` pieces,
 * TemplateProcessing for BOS, ByteFallback+Fuse decoder) and `tokenizer_config.json`; `Tokenizer.fromDir` of that
 * directory encodes and decodes identically.
 */
export class ByteTokenizer implements TokenizerLike {
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  readonly padTokenId = null;
  readonly unkTokenId = 0;
  readonly bosToken = "<s>";
  readonly eosToken = "</s>";
  readonly padToken = null;
  readonly unkToken = "<unk>";
  readonly vocabSize = BYTE_OFFSET + 256;
  readonly addBosToken = true;
  readonly addEosToken = false;
  readonly chatTemplate: string;
  readonly modelMaxLength: number;
  private readonly utf8 = new TextEncoder();
  private readonly textDecoder = new TextDecoder();

  constructor(opts: ByteTokenizerOptions = {}) {
    this.chatTemplate = opts.chatTemplate ?? BYTE_CHAT_TEMPLATE;
    this.modelMaxLength = opts.modelMaxLength ?? Number.POSITIVE_INFINITY;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError("ByteTokenizer.encode: text must be a string");
    const ids: number[] = [];
    if (opts.addSpecialTokens ?? true) ids.push(this.bosTokenId);
    const pushBytes = (s: string) => {
      for (const b of this.utf8.encode(s)) ids.push(BYTE_OFFSET + b);
    };
    let last = 0;
    for (const m of text.matchAll(BYTE_SPECIAL_RE)) {
      pushBytes(text.slice(last, m.index));
      ids.push(BYTE_SPECIALS.indexOf(m[0] as (typeof BYTE_SPECIALS)[number]));
      last = m.index + m[0].length;
    }
    pushBytes(text.slice(last));
    return ids;
  }

  /** Bytes are decoded as UTF-8 with U+FFFD for invalid sequences (special tokens removed first when skipped). */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    let out = "";
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) out += this.textDecoder.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`ByteTokenizer.decode: ids[${i}] = ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
      if (id >= BYTE_OFFSET) bytes.push(id - BYTE_OFFSET);
      else if (!skip) {
        flush();
        out += BYTE_SPECIALS[id];
      }
    });
    flush();
    return out;
  }

  tokenToId(token: string): number | null {
    const s = BYTE_SPECIALS.indexOf(token as (typeof BYTE_SPECIALS)[number]);
    if (s >= 0) return s;
    const m = /^<0x([0-9A-F]{2})>$/.exec(token);
    return m ? BYTE_OFFSET + parseInt(m[1]!, 16) : null;
  }

  idToToken(id: number): string | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return null;
    return id < BYTE_OFFSET ? BYTE_SPECIALS[id]! : byteToken(id - BYTE_OFFSET);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const tokens = { bos_token: this.bosToken, eos_token: this.eosToken, unk_token: this.unkToken, pad_token: this.padToken };
    return renderChatTemplate(opts.chatTemplate ?? this.chatTemplate, messages, tokens, opts);
  }

  /** The contents of `tokenizer.json` and `tokenizer_config.json` for this vocabulary (HF format). */
  toJSON(): { tokenizer: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
    const vocab: Record<string, number> = {};
    BYTE_SPECIALS.forEach((t, i) => (vocab[t] = i));
    for (let b = 0; b < 256; b++) vocab[byteToken(b)] = BYTE_OFFSET + b;
    const bos = { id: this.bosToken, ids: [this.bosTokenId], tokens: [this.bosToken] };
    const tokenizer = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: BYTE_SPECIALS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: this.bosToken, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [
          { SpecialToken: { id: this.bosToken, type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: this.bosToken, type_id: 1 } },
          { Sequence: { id: "B", type_id: 1 } },
        ],
        special_tokens: { [this.bosToken]: bos },
      },
      decoder: { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: this.unkToken,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    };
    const tokenizerConfig: Record<string, unknown> = {
      add_bos_token: this.addBosToken,
      add_eos_token: this.addEosToken,
      bos_token: this.bosToken,
      eos_token: this.eosToken,
      unk_token: this.unkToken,
      pad_token: this.padToken,
      chat_template: this.chatTemplate,
      clean_up_tokenization_spaces: false,
      tokenizer_class: "PreTrainedTokenizerFast",
    };
    if (Number.isFinite(this.modelMaxLength)) tokenizerConfig.model_max_length = this.modelMaxLength;
    return { tokenizer, tokenizerConfig };
  }

  /**
   * Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing).
   * @throws Error when the directory or files cannot be written.
   */
  async saveTo(dir: string | URL): Promise<void> {
    const d = typeof dir === "string" ? dir : fileURLToPath(dir);
    const { tokenizer, tokenizerConfig } = this.toJSON();
    await mkdir(d, { recursive: true });
    await writeFile(join(d, "tokenizer.json"), JSON.stringify(tokenizer, null, 2) + "\n");
    await writeFile(join(d, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2) + "\n");
  }
}
