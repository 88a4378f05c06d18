/**
 * The Ollama Modelfile written beside an exported `model.gguf` (`ortrl export gguf --ollama`): `FROM`,
 * `ADAPTER`, a `TEMPLATE` in Ollama's Go template dialect for the model's chat format, the template's
 * default `SYSTEM` message, `PARAMETER stop` strings and the sampling defaults of generation_config.json.
 * Format: Ollama's docs/modelfile.md (commands, parameter names) and docs/template.md (template variables).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type GenerationConfig, loadChatTemplate, readGenerationConfig, Tokenizer, type TokenizerLike } from "@ortrl/core";
import { type ChatFormat, type ChatTemplateFamilyName, formatName, goTemplate } from "./chat-format.js";
import { detectChatFormat } from "./chat-template-family.js";
import { modelfileLine, parseModelfile } from "./modelfile-syntax.js";

export interface ModelfileOptions {
  /** The GGUF model as the Modelfile names it, relative to the Modelfile's folder, e.g. "./model.gguf". */
  ggufPath: string;
  /** The Hugging Face model folder the GGUF was written from (tokenizer files, generation_config.json). */
  modelDir: string;
  /**
   * A chat template to use instead of the model's: Jinja text, or the path of a `.jinja` file (core's
   * loadChatTemplate: text containing `{{` or `{%` is the template itself).
   */
  chatTemplate?: string;
  /** A GGUF LoRA adapter as the Modelfile names it (`ADAPTER`), e.g. "./adapter.gguf". */
  adapterPath?: string;
  /**
   * Whether the GGUF's `tokenizer.ggml.add_bos_token` is true (llama.cpp / Ollama then put BOS before the
   * prompt). Default: the tokenizer's `addBosToken`, which is what the GGUF writer stores.
   */
  addBosToken?: boolean;
}

/** A Modelfile and what it was made of. */
export interface OllamaModelfile {
  /** The Modelfile's text (ends with a line end). */
  text: string;
  /** The chat template's family, or null when the model has no chat template. */
  family: ChatTemplateFamilyName | null;
  /** The chat format TEMPLATE renders (renderOllamaPrompt mirrors it in JS), or null without a chat template. */
  format: ChatFormat | null;
  /** The Go template written as TEMPLATE. */
  template: string;
  /** The SYSTEM message (the chat template's default system message), or null. */
  system: string | null;
  /** The `PARAMETER stop` strings, in order. */
  stop: string[];
  /** The other PARAMETERs (Ollama's names: temperature, top_p, top_k, repeat_penalty). */
  parameters: Record<string, number>;
  /** What the comment lines say beyond the first: choices made and things to know (e.g. sampling values left out). */
  notes: string[];
}

/** What {@link createModelfile} needs of a tokenizer (core's Tokenizer has all of it). */
export type ModelfileTokenizer = Pick<TokenizerLike, "bosToken" | "eosToken" | "padToken" | "chatTemplate" | "addBosToken" | "idToToken"> & {
  readonly unkToken?: string | null;
};

/** The template of a model without a chat template: the prompt as it is (Ollama's default template). */
const RAW_TEMPLATE = "{{ .Prompt }}";

/**
 * Reads the model folder (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
 * chat_template.jinja with core's `Tokenizer.fromDir`; generation_config.json with `readGenerationConfig`)
 * and writes the Modelfile's text; {@link createModelfile} says what goes in it.
 * @returns the Modelfile's text.
 * @throws Error from the loaders (naming the file), and every error of {@link createModelfile}.
 */
export async function buildModelfile(opts: ModelfileOptions): Promise<string> {
  return (await loadModelfile(opts)).text;
}

/**
 * {@link buildModelfile} with what the Modelfile was made of (family, format, system, stops, parameters,
 * notes), e.g. for the command line to report the family and print the notes.
 * @returns the Modelfile and its parts (see {@link createModelfile}).
 * @throws Error naming the file when the tokenizer files, generation_config.json or the `chatTemplate`
 *   file cannot be read (core's loaders; DataError for a missing or empty template file), and every error
 *   of {@link createModelfile}.
 */
export async function loadModelfile(opts: ModelfileOptions): Promise<OllamaModelfile> {
  const tokenizer = await Tokenizer.fromDir(opts.modelDir);
  const generation = readGenerationConfig(opts.modelDir);
  let chatTemplate: string | null = null;
  let templateSource: string;
  if (opts.chatTemplate !== undefined) {
    chatTemplate = loadChatTemplate(opts.chatTemplate);
    templateSource = chatTemplate === opts.chatTemplate ? "the chatTemplate option" : opts.chatTemplate;
  } else {
    chatTemplate = tokenizer.chatTemplate;
    const jinjaFile = path.join(opts.modelDir, "chat_template.jinja");
    templateSource = fs.existsSync(jinjaFile) ? jinjaFile : `${path.join(opts.modelDir, "tokenizer_config.json")} (chat_template)`;
  }
  return createModelfile(tokenizer, generation, { ...opts, chatTemplate: chatTemplate ?? undefined, templateSource });
}

/**
 * The Modelfile for a loaded tokenizer and generation config:
 *
 * - a first comment line naming ortrl, the model folder and the chat template's family, then one comment
 *   line per note;
 * - `FROM ggufPath` and, with `adapterPath`, `ADAPTER adapterPath`;
 * - `TEMPLATE """..."""`: the Go template of the format chat-template-family.ts finds by rendering the Jinja
 *   template on probe conversations (ChatML, Llama 3, Phi-3, Mistral, Llama 2). Ollama fills `.Messages`
 *   with the whole conversation (system messages included) and `.System`; BOS is left out when the GGUF
 *   adds it (add_bos_token). Messages of other roles (Ollama's `tool`) are left out. Where Ollama and the
 *   Jinja template must differ, a note says so (a template without a system role; one that trims contents;
 *   a GGUF that adds a BOS the template does not write). Ollama itself merges consecutive messages of one
 *   role into one (a blank line between) before rendering. A model without a chat template (a base model) gets `{{ .Prompt }}`: the
 *   prompt is passed as it is, which is Ollama's default for imported models, written out so that Ollama
 *   does not guess a template; a note says so;
 * - `SYSTEM """..."""` when the chat template has a default system message (SmolLM2's): Ollama puts it
 *   first when a conversation does not start with a system message, which is the same condition the Jinja
 *   templates use;
 * - `PARAMETER stop` for the format's turn markers (e.g. `<|im_start|>`, `<|im_end|>`) and every EOS token
 *   (tokenizer_config's eos_token and generation_config's eos_token_id);
 * - sampling: generation_config.json's `temperature`, `top_p`, `top_k` only when it sets `do_sample: true`
 *   (without it transformers decodes greedily and ignores them, and Ollama users get Ollama's sampling
 *   defaults, as a note says; add `PARAMETER temperature 0` for greedy decoding), and
 *   `repetition_penalty` as `repeat_penalty` whenever present (transformers applies it in greedy decoding
 *   too; llama.cpp applies it to the last repeat_last_n tokens, 64 by default, transformers to all).
 *   Absent values are not written, so Ollama's own defaults apply to them.
 *
 * Every value is written so that Ollama's parser reads it back exactly (modelfile-syntax.ts), and the whole
 * text is parsed back as a check.
 * @param opts `chatTemplate` is the Jinja text (not a path) here, overriding the tokenizer's;
 *   `templateSource` names it in messages (default: "the chat template of MODELDIR").
 * @returns the Modelfile and what it is made of.
 * @throws Error naming the template and every family tried when the chat template is none of them exactly
 *   (chat-template-family.ts); Error naming the value when a path, token or system message cannot be
 *   written in a Modelfile (modelfile-syntax.ts); Error for an empty `ggufPath`.
 */
export function createModelfile(
  tokenizer: ModelfileTokenizer,
  generation: GenerationConfig,
  opts: ModelfileOptions & { templateSource?: string },
): OllamaModelfile {
  if (opts.ggufPath.trim() === "") throw new Error("Modelfile: ggufPath is empty");
  const chatTemplate = opts.chatTemplate ?? tokenizer.chatTemplate;
  const addBosToken = opts.addBosToken ?? tokenizer.addBosToken;
  const notes: string[] = [];
  let format: ChatFormat | null = null;
  let template = RAW_TEMPLATE;
  let system: string | null = null;
  if (chatTemplate !== null) {
    const match = detectChatFormat(chatTemplate, {
      specialTokens: {
        bos_token: tokenizer.bosToken,
        eos_token: tokenizer.eosToken,
        unk_token: tokenizer.unkToken ?? null,
        pad_token: tokenizer.padToken,
      },
      addBosToken,
      source: opts.templateSource ?? `the chat template of ${opts.modelDir}`,
    });
    format = match.format;
    template = goTemplate(format);
    system = match.system;
    notes.push(...match.notes);
    if (system !== null) notes.push("SYSTEM is the chat template's default system message, used when a conversation has none");
  } else {
    notes.push("the model has no chat template (a base model): TEMPLATE passes the prompt as it is");
  }

  const stop = unique([...(format?.stop ?? []), ...eosTokens(tokenizer, generation, notes)]);
  const parameters: Record<string, number> = {};
  const sampling: Array<[keyof GenerationConfig, string]> = [
    ["temperature", "temperature"],
    ["topP", "top_p"],
    ["topK", "top_k"],
  ];
  const present = sampling.filter(([k]) => generation[k] !== undefined);
  if (generation.doSample === true) {
    for (const [k, name] of present) parameters[name] = generation[k] as number;
  } else if (present.length > 0) {
    notes.push(
      `generation_config.json has ${present.map(([, n]) => n).join(", ")} but not do_sample: true (transformers decodes greedily), ` +
        "so they are left out and Ollama samples with its defaults; add PARAMETER temperature 0 for greedy decoding",
    );
  }
  if (generation.repetitionPenalty !== undefined) parameters.repeat_penalty = generation.repetitionPenalty;

  const family = format ? formatName(format) : "none (no chat template)";
  const lines = [
    comment(`Modelfile for Ollama, written by ortrl from ${opts.modelDir}; chat template family: ${family}`),
    ...notes.map((n) => comment(`Note: ${n}`)),
    modelfileLine("FROM", opts.ggufPath),
  ];
  if (opts.adapterPath !== undefined) lines.push(modelfileLine("ADAPTER", opts.adapterPath));
  lines.push(modelfileLine("TEMPLATE", template, ["triple", "quoted"]));
  if (system !== null) lines.push(modelfileLine("SYSTEM", system, ["triple", "quoted"]));
  for (const s of stop) lines.push(modelfileLine("PARAMETER stop", s, ["quoted", "triple"]));
  for (const [name, value] of Object.entries(parameters)) lines.push(modelfileLine(`PARAMETER ${name}`, String(value)));
  const text = `${lines.join("\n")}\n`;
  checkReadsBack(text, { template, system, stop });
  return { text, family: format?.family ?? null, format, template, system, stop, parameters, notes };
}

/** The EOS tokens: tokenizer_config's eos_token and generation_config's eos_token_id(s) (Llama 3 has two). */
function eosTokens(tokenizer: ModelfileTokenizer, generation: GenerationConfig, notes: string[]): string[] {
  const out: string[] = [];
  if (tokenizer.eosToken) out.push(tokenizer.eosToken);
  const ids = generation.eosTokenId === undefined ? [] : Array.isArray(generation.eosTokenId) ? generation.eosTokenId : [generation.eosTokenId];
  for (const id of ids) {
    const t = tokenizer.idToToken(id);
    if (t === null) notes.push(`generation_config.json eos_token_id ${id} is not in the tokenizer, so it has no stop string`);
    else out.push(t);
  }
  // A byte-fallback token (`<0x02>`) is one byte of text, never the string "<0x02>": as a stop string it would never
  // match. llama.cpp still ends generation at the GGUF's EOS id itself.
  const bytes = out.filter((t) => /^<0x[0-9A-Fa-f]{2}>$/.test(t));
  for (const t of unique(bytes)) notes.push(`EOS token ${t} is a byte token, which no stop string can match; llama.cpp stops at the EOS id itself`);
  return out.filter((t) => t !== "" && !bytes.includes(t));
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** A comment line; line ends inside would end the comment, so they become spaces. */
function comment(text: string): string {
  return `# ${text.replace(/[\r\n]+/g, " ")}`;
}

/** Parses the Modelfile back (as Ollama would) and checks TEMPLATE, SYSTEM and the stops came through. */
function checkReadsBack(text: string, want: { template: string; system: string | null; stop: string[] }): void {
  const cmds = parseModelfile(text);
  const one = (name: string) => cmds.filter((c) => c.name === name).map((c) => c.args);
  const ok =
    one("template").length === 1 &&
    one("template")[0] === want.template &&
    JSON.stringify(one("system")) === JSON.stringify(want.system === null ? [] : [want.system]) &&
    JSON.stringify(one("stop")) === JSON.stringify(want.stop);
  if (!ok) throw new Error("internal error: the Modelfile does not read back as written (TEMPLATE, SYSTEM or stop)");
}
