/**
 * `Tokenizer`: a Hugging Face tokenizer. It wraps `@huggingface/tokenizers` (a pure-JS reading of
 * `tokenizer.json`) and adds what transformers' AutoTokenizer adds on top of the Rust tokenizer: special
 * tokens and `add_bos_token` / `add_eos_token` from `tokenizer_config.json`, the chat template (rendered
 * with chat-template.ts), `model_max_length`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer as HfTokenizerCtor } from "@huggingface/tokenizers";
import { type ChatMessage, type ChatTemplateOptions, renderChatTemplate } from "./chat-template.js";
import type { DecodeOptions, EncodeOptions, TokenizerLike } from "./tokenizer-like.js";

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
