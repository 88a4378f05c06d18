/**
 * Tokenizers and chat templates.
 *
 * `Tokenizer` wraps `@huggingface/tokenizers` (a pure-JS reading of Hugging Face `tokenizer.json`) and renders
 * chat templates with `@huggingface/jinja`; it adds what transformers' AutoTokenizer adds on top of the Rust
 * tokenizer: special tokens and `add_bos_token` / `add_eos_token` from `tokenizer_config.json`, the chat template,
 * `model_max_length`. `ByteTokenizer` is a dependency-free byte-level vocabulary (259 ids) for demos and tests; it
 * can save itself as a real HF `tokenizer.json` that `Tokenizer.fromDir` loads back.
 *
 * Both implement `TokenizerLike`, the interface trainers and data pipelines should depend on.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";
import { Tokenizer as HfTokenizerCtor } from "@huggingface/tokenizers";

/** One chat turn, as in transformers' `apply_chat_template` (extra keys are passed to the template as is). */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer is configured to (`addBosToken` / `addEosToken`). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, pad, unk and other added tokens marked special). Default false. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Render the prompt that opens an assistant turn (`add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** A Jinja template to use instead of the tokenizer's own. */
  chatTemplate?: string;
  /** Extra template variables (transformers' `**kwargs`), e.g. `{ tools: [...] }`; they override the special tokens. */
  templateVars?: Record<string, unknown>;
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

// ---------------------------------------------------------------------------------------------------------------
// Chat templates

const templateCache = new Map<string, Template>();
const TEMPLATE_CACHE_SIZE = 32;

function compileTemplate(source: string): Template {
  let t = templateCache.get(source);
  if (t) return t;
  try {
    t = new Template(source);
  } catch (e) {
    throw new Error(`chat template does not parse: ${(e as Error).message}`);
  }
  if (templateCache.size >= TEMPLATE_CACHE_SIZE) templateCache.delete(templateCache.keys().next().value!);
  templateCache.set(source, t);
  return t;
}

/**
 * Renders a chat template the way transformers' `apply_chat_template(..., tokenize=False)` does: Jinja with
 * `trim_blocks` and `lstrip_blocks` (as `@huggingface/jinja` always uses), variables `messages`,
 * `add_generation_prompt`, the special tokens that are set (`bos_token`, `eos_token`, `unk_token`, `pad_token`),
 * `templateVars`, and the library's globals (`raise_exception(msg)`, `range`, `strftime_now`, ...).
 * @throws TypeError for malformed `messages`; Error "chat template does not parse: ..." or
 *   "chat template failed to render: MSG" (MSG is raise_exception's argument when the template raises).
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  specialTokens: Record<string, string | null>,
  opts: Omit<ChatTemplateOptions, "chatTemplate"> = {},
): string {
  if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate: messages must be an array");
  messages.forEach((m, i) => {
    if (typeof m !== "object" || m === null || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new TypeError(`applyChatTemplate: messages[${i}] must be { role: string; content: string }`);
    }
  });
  const compiled = compileTemplate(template);
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(specialTokens)) if (v !== null) vars[k] = v;
  Object.assign(vars, opts.templateVars ?? {});
  vars.messages = messages.map((m) => ({ ...m }));
  vars.add_generation_prompt = opts.addGenerationPrompt ?? false;
  // raise_exception(msg) is a global of @huggingface/jinja (it throws Error(msg)); it cannot be redefined.
  delete vars.raise_exception;
  try {
    return compiled.render(vars);
  } catch (e) {
    throw new Error(`chat template failed to render: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer (tokenizer.json + tokenizer_config.json)

/**
 * The part of `@huggingface/tokenizers`' Tokenizer used here. Its .d.ts files import each other without `.js`
 * suffixes, so under NodeNext resolution the class type degrades to `any`; this interface restores checking.
 */
interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}

/** `model_max_length` at or above this is transformers' VERY_LARGE_INTEGER (int(1e30)): no limit. */
const NO_LIMIT = 1e29;

type Json = Record<string, unknown>;

async function readJsonFile(path: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`Tokenizer: cannot read ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`Tokenizer: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Tokenizer: ${path} must hold a JSON object`);
  }
  return parsed as Json;
}

async function readTextFile(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`Tokenizer: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A special-token entry of tokenizer_config.json: a string, an AddedToken object `{ content }`, or null. */
function tokenContent(v: unknown, key: string, source: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof (v as Json).content === "string") return (v as Json).content as string;
  throw new Error(`Tokenizer: ${source}: '${key}' must be a string, an AddedToken object or null`);
}

/** `chat_template` may be a string or a list of `{ name, template }` (transformers keeps the one named "default"). */
function pickChatTemplate(v: unknown, source: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    const d = v.find((e) => typeof e === "object" && e !== null && (e as Json).name === "default");
    return d && typeof (d as Json).template === "string" ? ((d as Json).template as string) : null;
  }
  if (typeof v === "object" && typeof (v as Json).default === "string") return (v as Json).default as string;
  throw new Error(`Tokenizer: ${source}: 'chat_template' must be a string or a list of { name, template }`);
}

export interface TokenizerFromJsonOptions {
  /** Where the files came from, for error messages. */
  source?: string;
  /** `special_tokens_map.json`, whose entries override tokenizer_config's (as in transformers). */
  specialTokensMap?: Json | null;
  /** A chat template that overrides tokenizer_config's (transformers' `chat_template.jinja`). */
  chatTemplate?: string | null;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) with transformers' AutoTokenizer behaviour:
 *
 * - BOS/EOS: when tokenizer_config.json has `add_bos_token` or `add_eos_token`, `encode` adds exactly those (an
 *   absent one of the two defaults to what the tokenizer.json post-processor does), replacing the post-processor as
 *   transformers' `update_post_processor` does; with neither key the tokenizer.json post-processor decides alone.
 * - Special tokens come from tokenizer_config.json (`special_tokens_map.json` entries override them).
 * - Decoding cleans up tokenization spaces only when `clean_up_tokenization_spaces` is true (default false, as in
 *   current transformers; the JS library alone defaults to true).
 */
export class Tokenizer implements TokenizerLike {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly vocabSize: number;
  /** The largest id, added tokens included (vocabSize - 1 when the ids have no gaps); -1 for an empty vocabulary. */
  readonly maxTokenId: number;
  readonly chatTemplate: string | null;
  readonly modelMaxLength: number;
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** Where the tokenizer was loaded from (a directory, or a label), for messages. */
  readonly source: string;
  /** True when BOS/EOS come from tokenizer_config's add_bos_token/add_eos_token rather than the post-processor. */
  private readonly overridePostProcessor: boolean;
  private readonly cleanUpSpaces: boolean;

  private constructor(
    private readonly hf: HfTokenizer,
    config: Json,
    opts: TokenizerFromJsonOptions,
  ) {
    const source = opts.source ?? "<memory>";
    this.source = source;
    const cfgName = `${source} tokenizer_config.json`;
    const special = { ...config, ...(opts.specialTokensMap ?? {}) };
    this.bosToken = tokenContent(special.bos_token, "bos_token", cfgName);
    this.eosToken = tokenContent(special.eos_token, "eos_token", cfgName);
    this.padToken = tokenContent(special.pad_token, "pad_token", cfgName);
    this.unkToken = tokenContent(special.unk_token, "unk_token", cfgName);
    this.bosTokenId = this.bosToken === null ? null : this.tokenToId(this.bosToken);
    this.eosTokenId = this.eosToken === null ? null : this.tokenToId(this.eosToken);
    this.padTokenId = this.padToken === null ? null : this.tokenToId(this.padToken);
    this.unkTokenId = this.unkToken === null ? null : this.tokenToId(this.unkToken);
    const vocab = hf.get_vocab(true);
    this.vocabSize = vocab.size;
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.maxTokenId = maxId;
    this.chatTemplate = opts.chatTemplate ?? pickChatTemplate(config.chat_template, cfgName);
    const mml = config.model_max_length;
    this.modelMaxLength = typeof mml === "number" && mml < NO_LIMIT ? mml : Number.POSITIVE_INFINITY;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    // What the post-processor adds around a sequence: encode a probe with and without special tokens.
    const withSpecial: number[] = hf.encode("a", { add_special_tokens: true }).ids;
    const plain: number[] = hf.encode("a", { add_special_tokens: false }).ids;
    let at = 0;
    while (at + plain.length <= withSpecial.length && !plain.every((id, i) => withSpecial[at + i] === id)) at++;
    const prefix = withSpecial.slice(0, at);
    const suffix = withSpecial.slice(at + plain.length);
    const ppBos = this.bosTokenId !== null && prefix.includes(this.bosTokenId);
    const ppEos = this.eosTokenId !== null && suffix.includes(this.eosTokenId);

    const addBos = config.add_bos_token;
    const addEos = config.add_eos_token;
    for (const [k, v] of [["add_bos_token", addBos], ["add_eos_token", addEos]] as const) {
      if (v !== undefined && v !== null && typeof v !== "boolean") throw new Error(`Tokenizer: ${cfgName}: '${k}' must be a boolean`);
    }
    this.overridePostProcessor = typeof addBos === "boolean" || typeof addEos === "boolean";
    this.addBosToken = typeof addBos === "boolean" ? addBos : ppBos;
    this.addEosToken = typeof addEos === "boolean" ? addEos : ppEos;
    if (this.addBosToken && this.bosTokenId === null) {
      throw new Error(`Tokenizer: ${cfgName}: add_bos_token is true but bos_token ${JSON.stringify(this.bosToken)} is not a token`);
    }
    if (this.addEosToken && this.eosTokenId === null) {
      throw new Error(`Tokenizer: ${cfgName}: add_eos_token is true but eos_token ${JSON.stringify(this.eosToken)} is not a token`);
    }
  }

  /**
   * Loads `tokenizer.json` and `tokenizer_config.json` from a Hugging Face model directory, plus
   * `special_tokens_map.json` and `chat_template.jinja` when present (as transformers does).
   * @throws Error naming the file when a required file is missing, a file is not valid JSON, or the tokenizer
   *   uses a component `@huggingface/tokenizers` does not support.
   */
  static async fromDir(dir: string | URL): Promise<Tokenizer> {
    const d = typeof dir === "string" ? dir : fileURLToPath(dir);
    const tokJson = (await readJsonFile(join(d, "tokenizer.json"), true))!;
    // tokenizer_config.json is optional, as in transformers (no config: the post_processor decides BOS/EOS).
    const config = (await readJsonFile(join(d, "tokenizer_config.json"), false)) ?? {};
    const specialTokensMap = await readJsonFile(join(d, "special_tokens_map.json"), false);
    const chatTemplate = await readTextFile(join(d, "chat_template.jinja"));
    return Tokenizer.fromJSON(tokJson, config, { source: d, specialTokensMap, chatTemplate });
  }

  /**
   * Builds a tokenizer from the parsed contents of `tokenizer.json` and `tokenizer_config.json`.
   * @throws Error when the objects are malformed or use unsupported components.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig: unknown, opts: TokenizerFromJsonOptions = {}): Tokenizer {
    const source = opts.source ?? "<memory>";
    if (typeof tokenizerJson !== "object" || tokenizerJson === null || !("model" in tokenizerJson)) {
      throw new Error(`Tokenizer: ${source} tokenizer.json has no 'model'`);
    }
    if (typeof tokenizerConfig !== "object" || tokenizerConfig === null) {
      throw new Error(`Tokenizer: ${source} tokenizer_config.json must be an object`);
    }
    const tj = tokenizerJson as Json;
    let hf: HfTokenizer;
    try {
      // The library iterates added_tokens and expects every component key to exist.
      hf = new HfTokenizerCtor(
        {
          ...tj,
          added_tokens: tj.added_tokens ?? [],
          normalizer: tj.normalizer ?? null,
          pre_tokenizer: tj.pre_tokenizer ?? null,
          post_processor: tj.post_processor ?? null,
          decoder: tj.decoder ?? null,
        },
        tokenizerConfig,
      ) as HfTokenizer;
    } catch (e) {
      throw new Error(`Tokenizer: cannot build a tokenizer from ${source} tokenizer.json: ${(e as Error).message}`);
    }
    return new Tokenizer(hf, tokenizerConfig as Json, opts);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError("Tokenizer.encode: text must be a string");
    const special = opts.addSpecialTokens ?? true;
    const enc = this.hf.encode(text, { add_special_tokens: special && !this.overridePostProcessor });
    const ids = enc.ids;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === undefined) throw new Error(`Tokenizer.encode: token ${JSON.stringify(enc.tokens[i])} has no id and the model has no unk token`);
    }
    if (!special || !this.overridePostProcessor) return ids;
    if (this.addBosToken) ids.unshift(this.bosTokenId!);
    if (this.addEosToken) ids.push(this.eosTokenId!);
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i]) || this.hf.id_to_token(ids[i]) === undefined) {
        throw new Error(`Tokenizer.decode: ids[${i}] = ${ids[i]} is not in the vocabulary of ${this.source}`);
      }
    }
    return this.hf.decode(ids as number[], {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  tokenToId(token: string): number | null {
    return this.hf.token_to_id(token) ?? null;
  }

  idToToken(id: number): string | null {
    return this.hf.id_to_token(id) ?? null;
  }

  /** @throws Error "tokenizer at DIR has no chat_template; pass --chat-template (chat_template)" when neither is available. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const template = opts.chatTemplate ?? this.chatTemplate;
    if (template === null) throw new Error(`tokenizer at ${this.source} has no chat_template; pass --chat-template FILE (chat_template in a config file)`);
    return renderChatTemplate(template, messages, this.specialTokensForTemplate(), opts);
  }

  private specialTokensForTemplate(): Record<string, string | null> {
    return { bos_token: this.bosToken, eos_token: this.eosToken, unk_token: this.unkToken, pad_token: this.padToken };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ByteTokenizer

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
