/**
 * Which chat format (chat-format.ts) a model's Jinja chat template is: not a Jinja-to-Go conversion, but
 * a check. The Jinja template is rendered (core's renderChatTemplate, as transformers'
 * `apply_chat_template`) on probe conversations, with and without `add_generation_prompt`, and a format
 * matches only when the prompt Ollama would render with its Go TEMPLATE equals the Jinja text on every
 * probe. A default system message (SmolLM2's "You are a helpful AI assistant named SmolLM...") is found
 * the same way and becomes the Modelfile's SYSTEM.
 *
 * BOS rule: llama.cpp and Ollama put BOS before the prompt themselves when the GGUF's
 * `tokenizer.ggml.add_bos_token` is true, so when the Jinja text starts with `bos_token` and the GGUF
 * adds BOS, the Go TEMPLATE leaves that BOS out (and the comparison drops it from the Jinja text); when
 * the GGUF does not add BOS, the TEMPLATE writes it as text (Ollama parses special tokens in the prompt).
 */
import { type ChatMessage, renderChatTemplate } from "@ortrl/core";
import { CHAT_FORMATS, type ChatFormat, formatName, renderOllamaPrompt } from "./chat-format.js";

export interface DetectChatFormatOptions {
  /** The special tokens the Jinja template sees (`bos_token`, `eos_token`, `unk_token`, `pad_token`; null when unset). */
  specialTokens: Record<string, string | null>;
  /** Whether the GGUF's `tokenizer.ggml.add_bos_token` is true, i.e. whether llama.cpp / Ollama put BOS before the prompt. */
  addBosToken: boolean;
  /** Where the template comes from, for messages, e.g. "model/tokenizer_config.json (chat_template)". */
  source: string;
}

export interface ChatFormatMatch {
  /** The matching format; its `lead` is the BOS the TEMPLATE must write itself ("" in the usual case). */
  format: ChatFormat;
  /** The template's default system message (rendered when a conversation has none), for the Modelfile's SYSTEM; null when it has none. */
  system: string | null;
  /** Facts about the translation worth a comment in the Modelfile. */
  notes: string[];
}

const SYSTEM = "You are a careful assistant.\nAnswer briefly.";
const USER_1 = "What is 17 + 25?";
const ASSISTANT_1 = "17 + 25 = 42.";
const USER_2 = 'And "17 * 2"? Show <work> & {steps}.';

const sys = (content: string): ChatMessage => ({ role: "system", content });
const user = (content: string): ChatMessage => ({ role: "user", content });
const assistant = (content: string): ChatMessage => ({ role: "assistant", content });

/** The probe conversations, named for messages. */
const PROBES: ReadonlyArray<{ name: string; messages: ChatMessage[] }> = [
  { name: "user", messages: [user(USER_1)] },
  { name: "system, user", messages: [sys(SYSTEM), user(USER_1)] },
  { name: "user, assistant, user", messages: [user(USER_1), assistant(ASSISTANT_1), user(USER_2)] },
  { name: "system, user, assistant, user", messages: [sys(SYSTEM), user(USER_1), assistant(ASSISTANT_1), user(USER_2)] },
  { name: "user, assistant", messages: [user(USER_1), assistant(ASSISTANT_1)] },
];

/** "dir/tokenizer_config.json (chat_template): {% for message in messages %}..." — a template's name in messages. */
export function describeChatTemplate(template: string, source: string): string {
  const line = template.split(/\r?\n/).find((l) => l.trim() !== "")?.trim() ?? "";
  const excerpt = line.length > 60 ? `${line.slice(0, 60)}...` : line;
  return `${source}: ${JSON.stringify(excerpt)}`;
}

type Rendered = { text: string } | { error: string };

function renderJinja(template: string, messages: ChatMessage[], addGenerationPrompt: boolean, opts: DetectChatFormatOptions): Rendered {
  try {
    return { text: renderChatTemplate(template, messages, opts.specialTokens, { addGenerationPrompt }) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Where two renderings first differ, as a short message. */
function difference(probe: string, expected: string, actual: string): string {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  const cut = (s: string) => JSON.stringify(s.slice(Math.max(0, i - 20), i + 25));
  return `on "${probe}" the template renders ${cut(actual)} where the format has ${cut(expected)} (character ${i})`;
}

/** Checks one format against the Jinja template; returns the match or why it does not match. */
function tryFormat(
  format: ChatFormat,
  template: string,
  opts: DetectChatFormatOptions,
  normalize: (text: string) => string | null,
  userOnly: string,
): ChatFormatMatch | { reason: string; progress: number } {
  const eos = opts.specialTokens.eos_token ?? null;
  // A default system message: the template renders a system turn for a conversation without one.
  let system: string | null = null;
  const plain = renderOllamaPrompt(format, PROBES[0]!.messages, null);
  if (userOnly !== plain) {
    const mark = "\u0000";
    const marked = renderOllamaPrompt(format, PROBES[0]!.messages, mark);
    const [before, after] = marked.split(mark) as [string, string | undefined];
    const found =
      after !== undefined && userOnly.length > before.length + after.length && userOnly.startsWith(before) && userOnly.endsWith(after);
    if (!found) {
      // Say where the text differs from a system turn whose message ends where the format's system text ends.
      const end = format.system.kind === "none" || !userOnly.startsWith(before) ? -1 : userOnly.indexOf(format.system.suffix, before.length);
      const closest = end < 0 || after === undefined ? plain : before + userOnly.slice(before.length, end) + after;
      return { reason: difference("user", closest, userOnly), progress: 0 };
    }
    system = userOnly.slice(before.length, userOnly.length - after.length);
  }
  let checked = 0;
  for (const probe of PROBES) {
    for (const generation of [true, false]) {
      checked++;
      const name = generation ? `${probe.name}, generation prompt` : probe.name;
      const r = renderJinja(template, probe.messages, generation, opts);
      if ("error" in r) {
        // A template without a system role may refuse system messages; the format drops them.
        if (format.system.kind === "none" && probe.messages.some((m) => m.role === "system")) continue;
        return { reason: `on "${name}" the template fails: ${r.error}`, progress: checked };
      }
      const text = normalize(r.text);
      if (text === null) return { reason: `on "${name}" the template does not start with bos_token as it does for a user message`, progress: checked };
      const expected = renderOllamaPrompt(format, probe.messages, system, generation);
      // Without a generation prompt a template may end the conversation with EOS (Phi-3 does); Ollama never renders that case.
      const ok = text === expected || (!generation && eos !== null && text === expected + eos);
      if (!ok) return { reason: difference(name, expected, text), progress: checked };
    }
  }
  const notes: string[] = [];
  if (format.system.kind === "none") notes.push("the chat template has no system role, so this TEMPLATE leaves system messages out");
  // Whitespace around contents: Llama 3's `| trim` and Llama 2's `.strip()` remove it; a Go template cannot
  // (Ollama defines no trim function), so such contents reach the model as they are.
  const padded = [user(` ${USER_1}\n`)];
  const r = renderJinja(template, padded, true, opts);
  if ("text" in r && normalize(r.text) !== renderOllamaPrompt(format, padded, system)) {
    notes.push("the chat template trims whitespace around message contents, which a Go template cannot do: such whitespace reaches the model as it is");
  }
  return { format, system, notes };
}

/**
 * Finds the chat format (chat-format.ts) whose Ollama rendering equals the Jinja chat template's on every
 * probe conversation (user; system, user; user, assistant, user; system, user, assistant, user; user,
 * assistant — each with and without `add_generation_prompt`), after the BOS rule in this file's header.
 * @returns the first matching format with the BOS it must write itself (`format.lead`), the template's
 *   default system message, and notes.
 * @throws Error naming the template (source and first line) and every format tried, each with where it
 *   differs, when none matches exactly; or when the template fails to render a single user message.
 */
export function detectChatFormat(template: string, opts: DetectChatFormatOptions): ChatFormatMatch {
  const name = describeChatTemplate(template, opts.source);
  const bos = opts.specialTokens.bos_token ?? null;
  const eos = opts.specialTokens.eos_token ?? null;
  const first = renderJinja(template, PROBES[0]!.messages, true, opts);
  if ("error" in first) throw new Error(`chat template ${name} cannot be translated to an Ollama TEMPLATE: it fails on a single user message: ${first.error}`);
  const startsWithBos = bos !== null && bos !== "" && first.text.startsWith(bos);
  // The GGUF adds BOS: drop it from the Jinja text. It does not: the TEMPLATE must write the whole text,
  // its first characters either as part of the format (SmolLM2's bos_token is ChatML's "<|im_start|>")
  // or as a BOS written before the format (`lead`).
  const stripBos = startsWithBos && opts.addBosToken;
  const leads = startsWithBos && !opts.addBosToken ? ["", bos] : [""];
  const normalize = (text: string): string | null => {
    if (!stripBos) return text;
    return text.startsWith(bos) ? text.slice(bos.length) : null;
  };
  const userOnly = normalize(first.text)!;
  const notes: string[] = [];
  if (stripBos) notes.push(`the chat template starts with bos_token ${JSON.stringify(bos)}; the GGUF adds it (add_bos_token), so the TEMPLATE leaves it out`);
  if (!startsWithBos && opts.addBosToken && bos) {
    notes.push(`the GGUF adds BOS ${JSON.stringify(bos)} before every prompt (add_bos_token) although the chat template does not write one`);
  }

  const tried: string[] = [];
  const reasons: string[] = [];
  for (const make of CHAT_FORMATS) {
    const base = make({ bos, eos });
    if (base === null) continue;
    let best: { reason: string; progress: number } | null = null;
    for (const lead of leads) {
      const format: ChatFormat = { ...base, lead };
      const r = tryFormat(format, template, opts, normalize, userOnly);
      if (!("reason" in r)) {
        if (lead) notes.push(`the chat template starts with bos_token ${JSON.stringify(bos)} and the GGUF does not add it (add_bos_token false), so the TEMPLATE writes it`);
        return { ...r, notes: [...notes, ...r.notes] };
      }
      if (best === null || r.progress > best.progress) best = r;
    }
    tried.push(formatName(base));
    reasons.push(`${formatName(base)}: ${best!.reason}`);
  }
  throw new Error(
    `chat template ${name} is none of the chat formats ortrl can write as an Ollama TEMPLATE ` +
      `(tried ${tried.join(", ")}): ${reasons.join("; ")}. ` +
      "Use a chat template of one of these families, or write the Modelfile's TEMPLATE by hand",
  );
}
