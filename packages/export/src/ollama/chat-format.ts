/**
 * The chat formats ortrl can write as an Ollama `TEMPLATE`: each one is data (the literal text around
 * each message's content), from which come both the Go `text/template` written to the Modelfile
 * ({@link goTemplate}) and a JS renderer that mirrors it ({@link renderOllamaPrompt}), so the export can
 * check the translation against the model's Jinja template without Go (chat-template-family.ts).
 *
 * The Go templates use only what Ollama's templates define (Ollama's docs/template.md and
 * template/template.go): `.Messages` (each with `.Role` and `.Content`, system messages included) and
 * `.System` (all system messages joined by a blank line), with Go's built-in `eq`/`if`/`range` and
 * template variables. {@link ollamaTemplateData} mirrors how Ollama's chat handler fills them.
 */
import type { ChatMessage } from "@ortrl/core";

/** The chat template families ortrl translates. */
export type ChatTemplateFamilyName = "chatml" | "llama3" | "phi3" | "mistral" | "llama2";

/** Literal text around a message's content. */
export interface TurnPieces {
  prefix: string;
  suffix: string;
}

/**
 * Where system messages go: their own turn (`turn`); inside the first user turn, after its prefix
 * (`first-user`, as Llama 2's `<<SYS>>` block); or nowhere (`none`: the template has no system role, so
 * the Ollama TEMPLATE drops system messages).
 */
export type SystemPlacement = ({ kind: "turn" } & TurnPieces) | ({ kind: "first-user" } & TurnPieces) | { kind: "none" };

/** One concrete chat format: a family's layout with the model's special tokens filled in. */
export interface ChatFormat {
  family: ChatTemplateFamilyName;
  /** The family's name for people, e.g. "Llama 3". */
  label: string;
  /** Which layout of the family, e.g. "no system role" (empty when the family has one). */
  variant: string;
  /** Text before the first message: a BOS the chat template writes but the GGUF does not add (see chat-template-family.ts). */
  lead: string;
  system: SystemPlacement;
  /** User turns; `laterPrefix` replaces `prefix` on every user turn after the first (Llama 2's `<s>[INST] `). */
  user: TurnPieces & { laterPrefix?: string };
  assistant: TurnPieces;
  /** The text that opens the assistant's reply (`add_generation_prompt`); may be empty. */
  generationPrompt: string;
  /** Strings that end the assistant's turn or start another (the Modelfile's `PARAMETER stop`). */
  stop: string[];
}

/** The special tokens a family's layout may contain. */
export interface FormatTokens {
  bos: string | null;
  eos: string | null;
}

const turn = (prefix: string, suffix: string): TurnPieces => ({ prefix, suffix });

/**
 * Every layout ortrl tries, in order, as functions of the model's special tokens (null when the layout
 * needs a token the tokenizer lacks). The layouts are the families' published chat formats:
 * ChatML (`<|im_start|>role\n...<|im_end|>\n`), Llama 3 (`<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`),
 * Phi-3 (`<|user|>\n...<|end|>\n`), Mistral (`[INST] ... [/INST]`, in its first layout without a system role and
 * in its later one with the system message in the first user turn) and Llama 2 (`[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]`).
 */
export const CHAT_FORMATS: ReadonlyArray<(t: FormatTokens) => ChatFormat | null> = [
  () => ({
    family: "chatml",
    label: "ChatML",
    variant: "",
    lead: "",
    system: { kind: "turn", ...turn("<|im_start|>system\n", "<|im_end|>\n") },
    user: turn("<|im_start|>user\n", "<|im_end|>\n"),
    assistant: turn("<|im_start|>assistant\n", "<|im_end|>\n"),
    generationPrompt: "<|im_start|>assistant\n",
    stop: ["<|im_start|>", "<|im_end|>"],
  }),
  () => ({
    family: "llama3",
    label: "Llama 3",
    variant: "",
    lead: "",
    system: { kind: "turn", ...turn("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>") },
    user: turn("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
    assistant: turn("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    generationPrompt: "<|start_header_id|>assistant<|end_header_id|>\n\n",
    stop: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
  }),
  () => ({
    family: "phi3",
    label: "Phi-3",
    variant: "",
    lead: "",
    system: { kind: "turn", ...turn("<|system|>\n", "<|end|>\n") },
    user: turn("<|user|>\n", "<|end|>\n"),
    assistant: turn("<|assistant|>\n", "<|end|>\n"),
    generationPrompt: "<|assistant|>\n",
    stop: ["<|end|>", "<|user|>", "<|assistant|>", "<|system|>"],
  }),
  ({ eos }) =>
    eos === null
      ? null
      : {
          family: "mistral",
          label: "Mistral",
          variant: "no system role",
          lead: "",
          system: { kind: "none" },
          user: turn("[INST] ", " [/INST]"),
          assistant: turn("", eos),
          generationPrompt: "",
          stop: ["[INST]", "[/INST]"],
        },
  ({ eos }) =>
    eos === null
      ? null
      : {
          family: "mistral",
          label: "Mistral",
          variant: "system message in the first user turn",
          lead: "",
          system: { kind: "first-user", ...turn("", "\n\n") },
          user: turn(" [INST] ", " [/INST]"),
          assistant: turn(" ", eos),
          generationPrompt: "",
          stop: ["[INST]", "[/INST]"],
        },
  ({ bos, eos }) =>
    bos === null || eos === null
      ? null
      : {
          family: "llama2",
          label: "Llama 2",
          variant: "",
          lead: "",
          system: { kind: "first-user", ...turn("<<SYS>>\n", "\n<</SYS>>\n\n") },
          user: { ...turn("[INST] ", " [/INST]"), laterPrefix: `${bos}[INST] ` },
          assistant: turn(" ", ` ${eos}`),
          generationPrompt: "",
          stop: ["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"],
        },
];

/** A format's name for messages: "Mistral (no system role)". */
export function formatName(f: ChatFormat): string {
  return f.variant ? `${f.label} (${f.variant})` : f.label;
}

/**
 * What Ollama's template sees for a chat: `messages` (the `.Messages` list, system messages included) and
 * `system` (`.System`). Mirrors Ollama's chat handler (server/routes.go: the Modelfile's `SYSTEM` is put
 * first as a system message when the request's first message is not one) and template.go's `collate`
 * (consecutive messages of one role merged with a blank line; `.System` = every system message's content,
 * joined by a blank line).
 * @param modelfileSystem the Modelfile's `SYSTEM`, or null when it has none.
 */
export function ollamaTemplateData(
  conversation: readonly ChatMessage[],
  modelfileSystem: string | null,
): { messages: ChatMessage[]; system: string } {
  const msgs = conversation.map((m) => ({ role: m.role, content: m.content }));
  if (msgs.length > 0 && msgs[0]!.role !== "system" && modelfileSystem) msgs.unshift({ role: "system", content: modelfileSystem });
  const systems: string[] = [];
  const collated: ChatMessage[] = [];
  for (const m of msgs) {
    if (m.role === "system") systems.push(m.content);
    const last = collated[collated.length - 1];
    if (last && last.role === m.role && m.role !== "tool") last.content += `\n\n${m.content}`;
    else collated.push({ ...m });
  }
  return { messages: collated, system: systems.join("\n\n") };
}

/**
 * Renders a conversation as Ollama would with {@link goTemplate}'s TEMPLATE and `modelfileSystem` as the
 * Modelfile's SYSTEM (the JS mirror of the Go template; the tests check both give the same text).
 * Messages whose role is not system, user or assistant are left out, as the Go template does.
 * @param generationPrompt false to stop after the last message (used to compare with a Jinja rendering
 *   without `add_generation_prompt`); Ollama always renders it.
 * @returns the prompt text, without the BOS the GGUF adds.
 */
export function renderOllamaPrompt(
  format: ChatFormat,
  conversation: readonly ChatMessage[],
  modelfileSystem: string | null,
  generationPrompt = true,
): string {
  const { messages, system } = ollamaTemplateData(conversation, modelfileSystem);
  let out = format.lead;
  let first = true;
  for (const m of messages) {
    if (m.role === "system") {
      if (format.system.kind === "turn") out += format.system.prefix + m.content + format.system.suffix;
    } else if (m.role === "user") {
      out += first ? format.user.prefix : (format.user.laterPrefix ?? format.user.prefix);
      if (first && format.system.kind === "first-user" && system !== "") out += format.system.prefix + system + format.system.suffix;
      first = false;
      out += m.content + format.user.suffix;
    } else if (m.role === "assistant") {
      out += format.assistant.prefix + m.content + format.assistant.suffix;
    }
  }
  return generationPrompt ? out + format.generationPrompt : out;
}

/**
 * The Go `text/template` for Ollama's Modelfile `TEMPLATE` that renders `format` (what
 * {@link renderOllamaPrompt} mirrors). It iterates `.Messages`, so Ollama takes its messages path (a
 * template that names `Messages` gets the whole conversation at once).
 * @throws Error when a literal piece contains `{{` (it would be read as a template action).
 */
export function goTemplate(format: ChatFormat): string {
  const lit = (s: string): string => {
    if (s.includes("{{")) throw new Error(`chat format ${formatName(format)}: the text ${JSON.stringify(s)} contains "{{", which a Go template reads as an action`);
    return s;
  };
  const { system, user, assistant } = format;
  const tracksFirst = system.kind === "first-user" || (user.laterPrefix !== undefined && user.laterPrefix !== user.prefix);
  let userTurn: string;
  if (tracksFirst) {
    const sys = system.kind === "first-user" ? `{{ if $.System }}${lit(system.prefix)}{{ $.System }}${lit(system.suffix)}{{ end }}` : "";
    userTurn = `{{ if $first }}${lit(user.prefix)}${sys}{{ else }}${lit(user.laterPrefix ?? user.prefix)}{{ end }}{{ $first = false }}`;
  } else {
    userTurn = lit(user.prefix);
  }
  userTurn += `{{ .Content }}${lit(user.suffix)}`;
  const openUser =
    system.kind === "turn"
      ? `{{ if eq .Role "system" }}${lit(system.prefix)}{{ .Content }}${lit(system.suffix)}{{ else if eq .Role "user" }}`
      : `{{ if eq .Role "user" }}`;
  return (
    lit(format.lead) +
    (tracksFirst ? "{{ $first := true }}" : "") +
    "{{ range .Messages }}" +
    openUser +
    userTurn +
    `{{ else if eq .Role "assistant" }}${lit(assistant.prefix)}{{ .Content }}${lit(assistant.suffix)}{{ end }}` +
    "{{ end }}" +
    lit(format.generationPrompt)
  );
}
